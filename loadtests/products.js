// products.js — the read path under an open-model load: every iteration
// reads the catalog (GET /v1/products). The env contract is in
// lib/config.js; chaoslab's runner (harness/load) sets it from a scenario.
import { loadConfig, k6Options } from './lib/config.js';
import { startTimeline, beginIteration } from './lib/timeline.js';
import { products } from './lib/shop.js';

const cfg = loadConfig(__ENV);
const readCatalog = products(cfg);

export const options = k6Options(cfg);

export function setup() {
  return startTimeline(cfg);
}

export default function (data) {
  beginIteration(cfg, data);
  readCatalog(data);
}
