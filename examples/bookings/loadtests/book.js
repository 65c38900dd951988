// book.js — the booking journey under an open-model load: every iteration
// books one stay (POST /v1/bookings). The env contract is chaoslab's
// (lib/config.js); chaoslab's runner sets it from a scenario.
import { loadConfig, k6Options } from './lib/config.js';
import { startTimeline, beginIteration } from './lib/timeline.js';
import { book } from './lib/bookings.js';

const cfg = loadConfig(__ENV);
const bookStay = book(cfg);

export const options = k6Options(cfg);

export function setup() {
  return startTimeline(cfg);
}

export default function (data) {
  beginIteration(cfg, data);
  bookStay(data);
}
