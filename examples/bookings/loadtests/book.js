// book.js — the booking journey under an open-model load: every iteration
// books one stay (POST /v1/bookings). The env contract is chaoslab's, and so
// is the small library that reads it and tags each request with its phase
// (loadtests/lib/config.js and timeline.js in chaoslab's repository): a team
// outside it imports them by URL or vendors them. chaoslab's runner sets the
// contract from a scenario.
import { loadConfig, k6Options } from '../../../loadtests/lib/config.js';
import { startTimeline, beginIteration } from '../../../loadtests/lib/timeline.js';
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
