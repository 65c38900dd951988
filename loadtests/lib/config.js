// Configuration of chaoslab's k6 scripts, read from the environment: the
// env contract of docs/lab.md, which every lab's scripts get (the shop's in
// loadtests/ and examples/bookings' import this file; the Go runner in
// harness/load sets it):
//
//   BASE_URL           the system's entry point (the proxy of the lab's load
//                      entry edge), default http://127.0.0.1:8000 (the shop's)
//   TOKEN              bearer token from the lab's auth provider (if any)
//   TOKEN_URL          client-credentials only: the issuer's token endpoint,
//   CLIENT_ID,         and the client to fetch fresh tokens as (lib/token.js)
//   CLIENT_SECRET
//   RUN_ID, SCENARIO   tags on every sample (run_id, scenario)
//   PHASES             the timeline, "baseline:10s,fault:15s,recovery:15s";
//                      each request is tagged with the phase it started in
//   START_AT           optional unix ms: the timeline's origin. setup() waits
//                      for it, so that the load starts on the caller's clock
//   EXECUTOR           constant-arrival-rate (default) | ramping-arrival-rate
//   RATE, TIME_UNIT    iterations per time unit (constant; TIME_UNIT default 1s)
//   START_RATE, STAGES ramping: "10:5s,20:10s" = target:duration
//   PRE_ALLOCATED_VUS  default 10;  MAX_VUS default max(100, PRE_ALLOCATED_VUS)
//   DURATION           total (constant); default: the sum of PHASES
//   GRACEFUL_STOP      default 5s
//   REQUEST_TIMEOUT    per request, default 10s
//   THRESHOLDS         k6 thresholds as JSON, default none
//
// Durations are Go durations: "500ms", "15s", "1m30s".

// SYSTEM_TAGS are k6's default system tags without "scenario" (the
// chaoslab scenario is a tag of its own, set from SCENARIO, and k6 would
// overwrite it with its scenario's name) and without the high-cardinality
// url/error ones; "name" identifies the request.
export const SYSTEM_TAGS = ['proto', 'status', 'method', 'name', 'group', 'check', 'error_code', 'expected_response'];

const UNIT_MS = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

// parseDuration turns a Go duration ("1m30s", "500ms", "0") into milliseconds.
export function parseDuration(s, field) {
  const str = String(s).trim();
  if (str === '0') {
    return 0;
  }
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let pos = 0;
  while (pos < str.length) {
    re.lastIndex = pos;
    const m = re.exec(str);
    if (m === null) {
      throw new Error(`${field}: "${s}" is not a duration; write it like 500ms, 15s or 1m30s`);
    }
    ms += parseFloat(m[1]) * UNIT_MS[m[2]];
    pos = re.lastIndex;
  }
  if (pos === 0) {
    throw new Error(`${field}: empty duration; write it like 500ms, 15s or 1m30s`);
  }
  return Math.round(ms);
}

// parseInteger reads a whole number in [min, max], or def when s is empty.
export function parseInteger(s, field, def, min, max) {
  if (s === undefined || s === '') {
    if (def === undefined) {
      throw new Error(`${field} is required: a whole number from ${min} to ${max}`);
    }
    return def;
  }
  if (!/^\d+$/.test(String(s).trim())) {
    throw new Error(`${field}: "${s}" is not a whole number; allowed: ${min} to ${max}`);
  }
  const n = parseInt(s, 10);
  if (n < min || n > max) {
    throw new Error(`${field}: ${n} is out of range; allowed: ${min} to ${max}`);
  }
  return n;
}

// parsePhases reads "baseline:10s,fault:15s" into [{name, ms}].
export function parsePhases(s) {
  if (s === undefined || s.trim() === '') {
    return [];
  }
  return s.split(',').map((part) => {
    const i = part.lastIndexOf(':');
    if (i <= 0) {
      throw new Error(`PHASES: "${part}" is not name:duration; write e.g. baseline:10s,fault:15s`);
    }
    const name = part.slice(0, i).trim();
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name)) {
      throw new Error(`PHASES: "${name}" is not a phase name; allowed: a letter, then letters, digits, _ and -`);
    }
    return { name, ms: parseDuration(part.slice(i + 1), `PHASES (${part})`) };
  });
}

// parseStages reads "10:5s,20:10s" (target:duration) into k6 stages.
export function parseStages(s) {
  if (s === undefined || s.trim() === '') {
    throw new Error('STAGES is required for ramping-arrival-rate: target:duration,… e.g. 10:5s,20:10s');
  }
  return s.split(',').map((part) => {
    const i = part.indexOf(':');
    if (i <= 0) {
      throw new Error(`STAGES: "${part}" is not target:duration; write e.g. 10:5s,20:10s`);
    }
    return {
      target: parseInteger(part.slice(0, i).trim(), `STAGES (${part}) target`, undefined, 0, 100000),
      duration: `${parseDuration(part.slice(i + 1), `STAGES (${part})`)}ms`,
    };
  });
}

// phaseAt names the phase that elapsedMs after the timeline's origin falls
// in: before the origin the first, after the last phase the last one.
export function phaseAt(phases, elapsedMs) {
  if (phases.length === 0) {
    return 'run';
  }
  let end = 0;
  for (const p of phases) {
    end += p.ms;
    if (elapsedMs < end) {
      return p.name;
    }
  }
  return phases[phases.length - 1].name;
}

// loadConfig reads the environment (k6's __ENV) into the scripts' settings.
// defaults may hold script-specific defaults under the env names.
export function loadConfig(env, defaults) {
  const e = Object.assign({}, defaults || {}, stripEmpty(env));
  const phases = parsePhases(e.PHASES);
  const phaseTotal = phases.reduce((sum, p) => sum + p.ms, 0);
  const cfg = {
    baseURL: (e.BASE_URL || 'http://127.0.0.1:8000').replace(/\/+$/, ''),
    token: e.TOKEN || '',
    tokenURL: e.TOKEN_URL || '',
    clientID: e.CLIENT_ID || '',
    clientSecret: e.CLIENT_SECRET || '',
    runID: e.RUN_ID || '',
    scenario: e.SCENARIO || '',
    phases,
    startAt: e.START_AT ? parseInteger(e.START_AT, 'START_AT', undefined, 0, Number.MAX_SAFE_INTEGER) : 0,
    executor: e.EXECUTOR || 'constant-arrival-rate',
    timeUnitMs: parseDuration(e.TIME_UNIT || '1s', 'TIME_UNIT'),
    preAllocatedVUs: parseInteger(e.PRE_ALLOCATED_VUS, 'PRE_ALLOCATED_VUS', 10, 1, 10000),
    gracefulStopMs: parseDuration(e.GRACEFUL_STOP || '5s', 'GRACEFUL_STOP'),
    requestTimeoutMs: parseDuration(e.REQUEST_TIMEOUT || '10s', 'REQUEST_TIMEOUT'),
    thresholds: {},
  };
  cfg.maxVUs = parseInteger(e.MAX_VUS, 'MAX_VUS', Math.max(100, cfg.preAllocatedVUs), cfg.preAllocatedVUs, 10000);
  if (e.THRESHOLDS) {
    try {
      cfg.thresholds = JSON.parse(e.THRESHOLDS);
    } catch (err) {
      throw new Error(`THRESHOLDS: not JSON (${err.message}); write e.g. {"http_req_failed":["rate<0.01"]}`);
    }
  }
  switch (cfg.executor) {
    case 'constant-arrival-rate':
      cfg.rate = parseInteger(e.RATE, 'RATE', undefined, 1, 100000);
      cfg.durationMs = e.DURATION ? parseDuration(e.DURATION, 'DURATION') : phaseTotal;
      if (cfg.durationMs <= 0) {
        throw new Error('DURATION (or PHASES) is required for constant-arrival-rate: e.g. DURATION=30s');
      }
      break;
    case 'ramping-arrival-rate':
      cfg.startRate = parseInteger(e.START_RATE, 'START_RATE', 0, 0, 100000);
      cfg.stages = parseStages(e.STAGES);
      break;
    default:
      throw new Error(`EXECUTOR: "${cfg.executor}" is not supported; allowed: constant-arrival-rate, ramping-arrival-rate`);
  }
  return cfg;
}

// k6Options builds the exported k6 options of cfg: one open-model scenario
// over the whole timeline, the run's tags, and the thresholds.
export function k6Options(cfg) {
  const sc = {
    executor: cfg.executor,
    timeUnit: `${cfg.timeUnitMs}ms`,
    preAllocatedVUs: cfg.preAllocatedVUs,
    maxVUs: cfg.maxVUs,
    gracefulStop: `${cfg.gracefulStopMs}ms`,
  };
  if (cfg.executor === 'constant-arrival-rate') {
    sc.rate = cfg.rate;
    sc.duration = `${cfg.durationMs}ms`;
  } else {
    sc.startRate = cfg.startRate;
    sc.stages = cfg.stages;
  }
  const tags = {};
  if (cfg.runID) {
    tags.run_id = cfg.runID;
  }
  if (cfg.scenario) {
    tags.scenario = cfg.scenario;
  }
  // setup() may wait for START_AT; give it that long and a minute more.
  const setupWaitMs = cfg.startAt ? Math.max(0, cfg.startAt - Date.now()) : 0;
  return {
    scenarios: { load: sc },
    systemTags: SYSTEM_TAGS,
    tags,
    thresholds: Object.assign(phaseThresholds(cfg.phases), cfg.thresholds),
    setupTimeout: `${setupWaitMs + 60000}ms`,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
    discardResponseBodies: false,
  };
}

// phaseThresholds are thresholds that always pass, one per phase and
// request metric: they make k6 break its end-of-test summary down by phase
// (requests, failed requests, latency), which the runner reads back.
export function phaseThresholds(phases) {
  const out = {};
  for (const p of phases) {
    out[`http_reqs{phase:${p.name}}`] = ['count>=0'];
    out[`http_req_failed{phase:${p.name}}`] = ['rate>=0'];
    out[`http_req_duration{phase:${p.name}}`] = ['max>=0'];
  }
  return out;
}

function stripEmpty(env) {
  const out = {};
  for (const k of Object.keys(env || {})) {
    if (env[k] !== '') {
      out[k] = env[k];
    }
  }
  return out;
}
