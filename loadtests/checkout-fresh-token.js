// checkout-fresh-token.js — the checkout journey with two kinds of token:
// every other iteration uses the run's TOKEN (fetched once, before the
// load: its key stays cached in the gateway), the others a token this VU
// fetched from the issuer at most TOKEN_REFRESH ago (default 1s), so that
// a key rotation reaches the gateway within about a second. Each order is
// tagged token=run or token=fresh. The env contract is in lib/config.js.
import { loadConfig, k6Options, parseDuration } from './lib/config.js';
import { startTimeline, beginIteration } from './lib/timeline.js';
import { checkout } from './lib/shop.js';
import { freshToken } from './lib/token.js';
import exec from 'k6/execution';

const cfg = loadConfig(__ENV);
const fresh = freshToken(cfg, parseDuration(__ENV.TOKEN_REFRESH || '1s', 'TOKEN_REFRESH'));
const withRunToken = checkout(cfg, undefined, { token: 'run' });
const withFreshToken = checkout(cfg, fresh, { token: 'fresh' });

export const options = k6Options(cfg);

export function setup() {
  return startTimeline(cfg);
}

export default function (data) {
  beginIteration(cfg, data);
  if (exec.scenario.iterationInTest % 2 === 0) {
    withRunToken(data);
  } else {
    withFreshToken(data);
  }
}
