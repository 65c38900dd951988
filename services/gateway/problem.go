package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// problemContentType is the media type of every error response (RFC 9457).
const problemContentType = "application/problem+json"

// problemTypePrefix starts every problem "type" URI. The URIs are tag URIs
// (RFC 4151): stable identifiers that are not meant to be dereferenced.
const problemTypePrefix = "tag:chaoslab.dev,2025:problems/"

// statusClientClosedRequest is the non-standard status (nginx's 499) used
// when the client went away before the answer was ready, so that such requests
// do not count as server errors.
const statusClientClosedRequest = 499

// problem is an RFC 9457 problem details object with this API's extension
// members. It is built only by the functions of this file.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`

	// OrderID and Reason describe a FAILED order.
	OrderID string `json:"order_id,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Errors lists every invalid field of a rejected request.
	Errors []fieldError `json:"errors,omitempty"`

	// header holds response headers that go with the problem
	// (Retry-After, WWW-Authenticate, Allow).
	header http.Header
}

// fieldError names one invalid part of a request: a body field such as
// "items[0].quantity" or a header such as "Idempotency-Key".
type fieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// newProblem returns a problem of the given type slug, status and title.
func newProblem(slug string, status int, title, detail string) problem {
	return problem{Type: problemTypePrefix + slug, Title: title, Status: status, Detail: detail}
}

// withHeader returns p with one more response header.
func (p problem) withHeader(key, value string) problem {
	h := p.header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	h.Set(key, value)
	p.header = h
	return p
}

// withRetryAfter returns p with a Retry-After header of d rounded up to whole
// seconds, at least one.
func (p problem) withRetryAfter(d time.Duration) problem {
	secs := int64((d + time.Second - 1) / time.Second)
	return p.withHeader("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}

// writeProblem writes p as the response. instance defaults to the request path.
func writeProblem(w http.ResponseWriter, r *http.Request, p problem) {
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	h := w.Header()
	for k, vs := range p.header {
		h[k] = vs
	}
	h.Set("Content-Type", problemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	// The status line is out: an encoding or write error can only be dropped.
	_ = json.NewEncoder(w).Encode(p)
}

// problemFromError maps any error met while serving a request to a problem:
// request decoding and validation errors, and errors of the orders and
// inventory calls (see upstreamProblem).
func problemFromError(err error) problem {
	var (
		tooLarge   *http.MaxBytesError
		media      *mediaTypeError
		malformed  *decodeError
		validation *validationError
	)
	switch {
	case errors.As(err, &tooLarge):
		return newProblem("body-too-large", http.StatusRequestEntityTooLarge, "Request body too large",
			fmt.Sprintf("the request body exceeds %d bytes", tooLarge.Limit))
	case errors.As(err, &media):
		return newProblem("unsupported-media-type", http.StatusUnsupportedMediaType, "Unsupported media type",
			media.Error()).withHeader("Accept-Post", "application/json")
	case errors.As(err, &malformed):
		p := newProblem("malformed-body", http.StatusBadRequest, "Malformed request body", malformed.Error())
		if malformed.field != "" {
			p.Errors = []fieldError{{Field: malformed.field, Detail: malformed.detail}}
		}
		return p
	case errors.As(err, &validation):
		p := newProblem("invalid-request", http.StatusBadRequest, "Invalid request", validation.Error())
		p.Errors = validation.fields
		return p
	}
	return upstreamProblem(err)
}

// upstreamProblem maps an error of an orders or inventory call to a problem:
// the one place where gRPC status codes become HTTP statuses. The detail of a
// 5xx problem is at most the gRPC status message, never the Go error chain.
func upstreamProblem(err error) problem {
	// The status itself, not status.FromError: that one puts the whole
	// wrapped error text into the message.
	var st *status.Status
	var carrier interface{ GRPCStatus() *status.Status }
	if errors.As(err, &carrier) {
		st = carrier.GRPCStatus()
	}
	if st == nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			st = status.New(codes.DeadlineExceeded, "the request deadline was exceeded")
		case errors.Is(err, context.Canceled):
			st = status.New(codes.Canceled, "the request was canceled")
		default:
			return newProblem("internal", http.StatusInternalServerError, "Internal server error",
				"the gateway failed to serve the request")
		}
	}
	msg := st.Message()
	switch st.Code() {
	case codes.InvalidArgument:
		return newProblem("invalid-request", http.StatusBadRequest, "Invalid request", msg)
	case codes.NotFound:
		return newProblem("not-found", http.StatusNotFound, "Not found", msg)
	case codes.AlreadyExists:
		return newProblem("idempotency-key-reused", http.StatusConflict,
			"Idempotency key already used for a different request", msg)
	case codes.Aborted:
		return newProblem("order-in-progress", http.StatusConflict,
			"An order with this idempotency key is still being placed", msg).withRetryAfter(time.Second)
	case codes.ResourceExhausted:
		return newProblem("dependency-overloaded", http.StatusServiceUnavailable,
			"A dependency is overloaded", msg).withRetryAfter(time.Second)
	case codes.Unavailable:
		return newProblem("dependency-unavailable", http.StatusServiceUnavailable,
			"A dependency is unavailable", msg)
	case codes.DeadlineExceeded:
		return newProblem("deadline-exceeded", http.StatusGatewayTimeout, "Deadline exceeded", msg)
	case codes.Canceled:
		return newProblem("canceled", statusClientClosedRequest, "Request canceled", msg)
	case codes.Unknown, codes.Internal, codes.DataLoss:
		return newProblem("bad-gateway", http.StatusBadGateway, "A dependency failed", msg)
	default:
		// Any other code means the gateway used a dependency against its
		// contract: the gateway's fault.
		return newProblem("internal", http.StatusInternalServerError, "Internal server error", msg)
	}
}

// failedOrderProblem maps a FAILED order to a problem by its failure reason.
func failedOrderProblem(o *ordersv1.Order) problem {
	reason := o.GetFailureReason()
	var p problem
	switch reason {
	case "out_of_stock":
		p = newProblem("out-of-stock", http.StatusConflict, "Out of stock",
			"not enough stock for the items of the order")
	case "unknown_product":
		p = newProblem("unknown-product", http.StatusUnprocessableEntity, "Unknown product",
			"the order names a product that does not exist")
	case "payment_declined":
		p = newProblem("payment-declined", http.StatusPaymentRequired, "Payment declined",
			"the payment for the order was declined")
	case "dependency_unavailable":
		p = newProblem("dependency-unavailable", http.StatusServiceUnavailable, "A dependency is unavailable",
			"the order failed because a dependency was unavailable; retry with a new idempotency key")
	case "deadline_exceeded":
		p = newProblem("deadline-exceeded", http.StatusGatewayTimeout, "Deadline exceeded",
			"the order failed because a step ran out of time; retry with a new idempotency key")
	default:
		p = newProblem("order-failed", http.StatusInternalServerError, "Order failed",
			"the order failed for an internal reason")
	}
	p.OrderID = o.GetOrderId()
	p.Reason = reason
	p.Instance = orderLocation(o.GetOrderId())
	return p
}

// badUpstreamProblem is for a dependency answer that breaks its contract
// (for example an order without a status).
func badUpstreamProblem(detail string) problem {
	return newProblem("bad-gateway", http.StatusBadGateway, "A dependency failed", detail)
}

// routeNotFoundProblem is for a path that no route serves.
func routeNotFoundProblem(path string) problem {
	return newProblem("not-found", http.StatusNotFound, "Not found",
		fmt.Sprintf("no route serves %q", path))
}

// methodNotAllowedProblem is for a known path asked with a wrong method.
func methodNotAllowedProblem(method, allow string) problem {
	return newProblem("method-not-allowed", http.StatusMethodNotAllowed, "Method not allowed",
		fmt.Sprintf("method %s is not allowed here; use %s", method, allow)).withHeader("Allow", allow)
}

// unauthorizedProblem is for a request without a valid bearer token.
// description is safe to show and goes into WWW-Authenticate too when the
// token was present but invalid (RFC 6750 section 3).
func unauthorizedProblem(tokenPresent bool, description string) problem {
	challenge := `Bearer realm="chaoslab"`
	if tokenPresent {
		challenge += `, error="invalid_token", error_description=` + strconv.Quote(description)
	}
	return newProblem("unauthorized", http.StatusUnauthorized, "Unauthorized", description).
		withHeader("WWW-Authenticate", challenge)
}

// rateLimitedProblem is for a request refused by the gateway's rate limit.
func rateLimitedProblem(retryAfter time.Duration) problem {
	return newProblem("rate-limited", http.StatusTooManyRequests, "Too many requests",
		"the gateway's request rate limit is exhausted; retry later").withRetryAfter(retryAfter)
}

// overloadedProblem is for a request shed because the gateway is serving its
// maximum of concurrent requests.
func overloadedProblem() problem {
	return newProblem("overloaded", http.StatusServiceUnavailable, "overloaded",
		"the gateway is serving its maximum of concurrent requests; retry later").withRetryAfter(time.Second)
}

// notReadyProblem is for /readyz when the readiness check fails.
func notReadyProblem(err error) problem {
	return newProblem("not-ready", http.StatusServiceUnavailable, "Not ready", err.Error())
}
