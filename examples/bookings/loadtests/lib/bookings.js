// The bookings journeys, as one k6 iteration each.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { idempotencyKey } from '../../../../loadtests/lib/timeline.js';

// TIMEOUT_ERROR_CODE is k6's error_code of a request that timed out.
const TIMEOUT_ERROR_CODE = 1050;

const ROOMS = ['single', 'double', 'suite'];

// book books one stay: POST /v1/bookings with a fresh Idempotency-Key, a
// random room type and 1–7 nights. Every booking the desk acknowledged —
// 201 (created) or 200 (the key was booked before) — is logged as
// "ACK <booking id> <idempotency key>" for chaoslab's invariants.
export function book(cfg) {
  return function (data) {
    const key = idempotencyKey(data);
    const body = JSON.stringify({
      guest: `guest-${exec.vu.idInTest}`,
      room: ROOMS[Math.floor(Math.random() * ROOMS.length)],
      nights: 1 + Math.floor(Math.random() * 7),
    });
    const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': key };
    if (cfg.token) {
      headers.Authorization = `Bearer ${cfg.token}`;
    }
    const res = http.post(`${cfg.baseURL}/v1/bookings`, body, {
      headers,
      tags: { name: 'POST /v1/bookings' },
      timeout: `${cfg.requestTimeoutMs}ms`,
    });
    if (res.status === 201 || res.status === 200) {
      console.log(`ACK ${bookingID(res)} ${key}`);
    }
    check(res, {
      'booking acknowledged (201)': (r) => r.status === 201,
      'no 5xx': (r) => r.status < 500,
      'no timeout': (r) => r.error_code !== TIMEOUT_ERROR_CODE,
    });
  };
}

// bookingID is the id in the answer, or "-" when it has none.
function bookingID(res) {
  try {
    const id = res.json('id');
    return typeof id === 'string' && id !== '' && !/\s/.test(id) ? id : '-';
  } catch (e) {
    return '-';
  }
}
