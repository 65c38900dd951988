// baseline.js — `make load`: the checkout journey at 40 orders/s for 30 s,
// held to k6 thresholds (k6 exits 99 when one fails): under 1% failed
// requests, p99 under 500 ms, checks above 99%, at most 1% of iterations
// dropped. On a 2-core machine that also runs the whole lab (measured with
// `RATE=… DURATION=20s make load`): 40/s p99 18 ms, 100/s p99 38 ms,
// 160/s p99 284 ms with no failure; at 220/s 12% fail and p99 nears 1 s. Every setting can be overridden through the env
// contract of lib/config.js (RATE=60 DURATION=1m THRESHOLDS='{…}').
// Run it with --no-usage-report.
import { loadConfig, k6Options } from './lib/config.js';
import { startTimeline, beginIteration } from './lib/timeline.js';
import { checkout } from './lib/shop.js';

const cfg = loadConfig(__ENV, {
  EXECUTOR: 'constant-arrival-rate',
  RATE: '40',
  DURATION: '30s',
  PHASES: 'baseline:30s',
  SCENARIO: 'baseline',
  PRE_ALLOCATED_VUS: '40', // k6 drops iterations while it starts VUs beyond these
  MAX_VUS: '200',
});
if (!__ENV.THRESHOLDS) {
  const iterations = (cfg.rate * cfg.durationMs) / cfg.timeUnitMs;
  cfg.thresholds = {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(99)<500'],
    checks: ['rate>0.99'],
    dropped_iterations: [`count<=${Math.floor(iterations / 100)}`], // at most 1%
  };
}
const placeOrder = checkout(cfg);

export const options = k6Options(cfg);

export function setup() {
  return startTimeline(cfg);
}

export default function (data) {
  beginIteration(cfg, data);
  placeOrder(data);
}
