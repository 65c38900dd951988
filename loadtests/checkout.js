// checkout.js — the checkout journey under an open-model load: every
// iteration places one order (POST /v1/orders). The env contract is in
// lib/config.js; chaoslab's runner (harness/load) sets it from a scenario.
import { loadConfig, k6Options } from './lib/config.js';
import { startTimeline, beginIteration } from './lib/timeline.js';
import { checkout } from './lib/shop.js';

const cfg = loadConfig(__ENV);
const placeOrder = checkout(cfg);

export const options = k6Options(cfg);

export function setup() {
  return startTimeline(cfg);
}

export default function (data) {
  beginIteration(cfg, data);
  placeOrder(data);
}
