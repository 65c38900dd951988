// baseline.js — `make load`: the checkout journey at a fixed rate for 30 s,
// held to k6 thresholds (k6 exits 99 when one fails). The rate leaves
// headroom on a 2-core machine that also runs the whole lab; every setting
// can be overridden through the env contract of lib/config.js
// (e.g. RATE=40 DURATION=1m).
import { loadConfig, k6Options } from './lib/config.js';
import { startTimeline, beginIteration } from './lib/timeline.js';
import { checkout } from './lib/shop.js';

const cfg = loadConfig(__ENV, {
  EXECUTOR: 'constant-arrival-rate',
  RATE: '25',
  DURATION: '30s',
  PHASES: 'baseline:30s',
  SCENARIO: 'baseline',
  PRE_ALLOCATED_VUS: '20',
  MAX_VUS: '100',
  THRESHOLDS: JSON.stringify({
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(99)<500'],
    checks: ['rate>0.99'],
    dropped_iterations: ['count<1'],
  }),
});
const placeOrder = checkout(cfg);

export const options = k6Options(cfg);

export function setup() {
  return startTimeline(cfg);
}

export default function (data) {
  beginIteration(cfg, data);
  placeOrder(data);
}
