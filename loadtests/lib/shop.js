// The shop's journeys, as one k6 iteration each.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { idempotencyKey } from './timeline.js';

// TIMEOUT_ERROR_CODE is k6's error_code of a request that timed out.
const TIMEOUT_ERROR_CODE = 1050;

const SKUS = ['sku-1', 'sku-2', 'sku-3', 'sku-4', 'sku-5', 'sku-6', 'sku-7', 'sku-8'];

// checkout places one order: POST /v1/orders with a fresh Idempotency-Key,
// a random sku of the plentiful catalog and a quantity of 1–3. Every
// acknowledged order is logged as "ACK <order_id> <idempotency_key>" (201,
// CONFIRMED) or "ACCEPTED <order_id> <idempotency_key>" (202, PENDING) for
// the invariant checks after the run. token(data) gives the bearer token
// (default: the run's TOKEN, or the one setup() fetched); tags are added to
// the request's.
export function checkout(cfg, token, tags) {
  const bearer = token || ((data) => cfg.token || data.token);
  const requestTags = Object.assign({ name: 'POST /v1/orders' }, tags || {});
  return function (data) {
    const key = idempotencyKey(data);
    const body = JSON.stringify({
      customer_id: `c-${exec.vu.idInTest}`,
      items: [{ sku: SKUS[Math.floor(Math.random() * SKUS.length)], quantity: 1 + Math.floor(Math.random() * 3) }],
    });
    const res = http.post(`${cfg.baseURL}/v1/orders`, body, {
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${bearer(data)}`,
        'Idempotency-Key': key,
      },
      tags: requestTags,
      timeout: `${cfg.requestTimeoutMs}ms`,
    });
    if (res.status === 201 || res.status === 202) {
      const id = orderID(res);
      console.log(`${res.status === 201 ? 'ACK' : 'ACCEPTED'} ${id} ${key}`);
    }
    check(res, {
      'order acknowledged (201)': (r) => r.status === 201,
      'no 5xx': (r) => r.status < 500,
      'no timeout': (r) => r.error_code !== TIMEOUT_ERROR_CODE,
    });
  };
}

// products reads the catalog: GET /v1/products.
export function products(cfg) {
  return function () {
    const res = http.get(`${cfg.baseURL}/v1/products`, {
      tags: { name: 'GET /v1/products' },
      timeout: `${cfg.requestTimeoutMs}ms`,
    });
    check(res, {
      'catalog read (200)': (r) => r.status === 200 && hasProducts(r),
      'no 5xx': (r) => r.status < 500,
      'no timeout': (r) => r.error_code !== TIMEOUT_ERROR_CODE,
    });
  };
}

function orderID(res) {
  try {
    const id = res.json('order_id');
    return id ? String(id) : '-';
  } catch (e) {
    return '-';
  }
}

function hasProducts(res) {
  try {
    const p = res.json('products');
    return Array.isArray(p) && p.length > 0;
  } catch (e) {
    return false;
  }
}
