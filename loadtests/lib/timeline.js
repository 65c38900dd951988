// The timeline of a run: setup() fixes its origin, every iteration tags its
// samples with the phase it starts in.
import { sleep } from 'k6';
import exec from 'k6/execution';
import { phaseAt } from './config.js';
import { fetchToken } from './token.js';

// startTimeline is the body of the scripts' setup(). With START_AT it waits
// until then, so that the load starts on the caller's clock; it logs
// "START <origin unix ms> <load start unix ms>" and returns the data every
// iteration gets: the origin, the prefix of the idempotency keys and, when
// the harness gave no TOKEN but an issuer (TOKEN_URL: a k6-operator
// TestRun), a token fetched from it.
export function startTimeline(cfg) {
  let token = '';
  if (!cfg.token && cfg.tokenURL) {
    token = fetchToken(cfg);
    if (!token) {
      throw new Error(`no token from ${cfg.tokenURL} for client ${cfg.clientID}`);
    }
  }
  let origin = Date.now();
  if (cfg.startAt) {
    const wait = cfg.startAt - origin;
    if (wait > 0) {
      sleep(wait / 1000);
    }
    origin = cfg.startAt;
  }
  const started = Date.now();
  console.log(`START ${origin} ${started}`);
  return { origin, keyPrefix: keyPrefix(cfg.runID, cfg.scenario), token };
}

// beginIteration tags every sample of this iteration with its phase and
// returns the phase's name.
export function beginIteration(cfg, data) {
  const phase = phaseAt(cfg.phases, Date.now() - data.origin);
  exec.vu.metrics.tags.phase = phase;
  return phase;
}

// idempotencyKey is unique per iteration of the run: run id, VU, iteration.
export function idempotencyKey(data) {
  return `${data.keyPrefix}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
}

// keyPrefix makes the run id and scenario fit an idempotency key's alphabet
// [A-Za-z0-9_-] and length: the scenarios of one run share the run id and
// the lab, so the scenario must be part of every key. Without a run id, a
// random one keeps keys unique across runs.
function keyPrefix(runID, scenario) {
  const id = [runID, scenario].filter((s) => s).join('-');
  let p = String(id || '').replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 96);
  if (p === '') {
    p = `k6-${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  }
  return p;
}
