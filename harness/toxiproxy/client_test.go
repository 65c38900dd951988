package toxiproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangingServer is an HTTP server on 127.0.0.1 that answers no request: each
// handler reads the request's body, reports the request on seen, waits until
// the request's context is cancelled (the client cut it) and reports it on
// cancelled.
func hangingServer(t *testing.T) (url string, seen, cancelled <-chan string) {
	t.Helper()
	seenC, cancelledC := make(chan string, 16), make(chan string, 16)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body to its end: net/http watches the connection (and so
		// cancels r.Context() when the client goes away) only after that.
		_, _ = io.Copy(io.Discard, r.Body)
		req := r.Method + " " + r.URL.Path
		seenC <- req
		select {
		case <-r.Context().Done():
			cancelledC <- req
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL, seenC, cancelledC
}

// clientGoroutines returns the stacks of the goroutines running this
// package's Client code (or a helper that calls it in the background, as
// the wrapper of the official client did).
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "harness/toxiproxy.(*Client)") || strings.Contains(g, "harness/toxiproxy.call") {
			out = append(out, g)
		}
	}
	return out
}

// apiCalls are every method of the Client, with the request it sends first.
var apiCalls = []struct {
	name, request string
	call          func(context.Context, *Client) error
}{
	{"Ready", "GET /version", func(ctx context.Context, c *Client) error { return c.Ready(ctx) }},
	{"WaitReady", "GET /version", func(ctx context.Context, c *Client) error { return c.WaitReady(ctx) }},
	{"Populate", "POST /populate", func(ctx context.Context, c *Client) error {
		return c.Populate(ctx, []ProxySpec{{Name: "p", Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1"}})
	}},
	{"Proxies", "GET /proxies", func(ctx context.Context, c *Client) error { _, err := c.Proxies(ctx); return err }},
	{"AddToxic", "POST /proxies/p/toxics", func(ctx context.Context, c *Client) error {
		return c.AddToxic(ctx, "p", Toxic{Name: "t", Type: "latency", Toxicity: 1, Attributes: map[string]any{"latency": 1}})
	}},
	{"RemoveToxic", "DELETE /proxies/p/toxics/t", func(ctx context.Context, c *Client) error { return c.RemoveToxic(ctx, "p", "t") }},
	{"SetEnabled", "POST /proxies/p", func(ctx context.Context, c *Client) error { return c.SetEnabled(ctx, "p", true) }},
	{"Reset", "POST /reset", func(ctx context.Context, c *Client) error { return c.Reset(ctx) }},
}

// Every call is one real request made with its ctx: against a server that
// never answers, it returns when ctx ends, with ctx's error, and the server
// sees the request's context cancelled, so nothing is left running that
// could still act once the caller has moved on.
func TestEveryCallEndsWithItsContextAndCutsItsRequest(t *testing.T) {
	const bound = 100 * time.Millisecond
	// slack is for a loaded 2-core machine under -race.
	const slack = 400 * time.Millisecond
	ends := []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func(p context.Context) (context.Context, context.CancelFunc) { return context.WithTimeout(p, bound) }, context.DeadlineExceeded},
		{"cancel", func(p context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(p)
			time.AfterFunc(bound, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range apiCalls {
		for _, end := range ends {
			t.Run(tc.name+"/"+end.name, func(t *testing.T) {
				url, seen, cancelled := hangingServer(t)
				c := New(url)
				ctx, cancel := end.ctx(t.Context())
				defer cancel()

				start := time.Now()
				err := tc.call(ctx, c)
				elapsed := time.Since(start)

				require.Error(t, err)
				assert.ErrorIs(t, err, end.want)
				assert.Less(t, elapsed, bound+slack, "the call returns when its ctx ends")
				select {
				case req := <-seen:
					assert.Equal(t, tc.request, req)
				default:
					t.Fatal("the server saw no request")
				}
				select {
				case req := <-cancelled:
					assert.Equal(t, tc.request, req, "the request itself was cancelled")
				case <-time.After(2 * time.Second):
					t.Fatal("the server never saw the request's context cancelled: it is still running")
				}
				assert.Empty(t, clientGoroutines(), "no goroutine of the client outlives the call")
			})
		}
	}
}

// A ctx that has ended before the call sends nothing.
func TestAnEndedContextSendsNoRequest(t *testing.T) {
	url, seen, _ := hangingServer(t)
	c := New(url)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range apiCalls {
		err := tc.call(ctx, c)
		assert.ErrorIs(t, err, context.Canceled, tc.name)
	}
	select {
	case req := <-seen:
		t.Fatalf("the server saw %s", req)
	default:
	}
}

// The API's errors name the method, path, HTTP status and the API's own
// message, and are an *APIError, so that a 404 is recognisable. RemoveToxic
// of a missing toxic is not an error; of an unknown proxy, it is.
func TestAPIErrorsCarryStatusAndMessage(t *testing.T) {
	c := startServer(t)
	up, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { up.Close() })
	require.NoError(t, c.Populate(t.Context(), []ProxySpec{{Name: "a_to_b", Listen: "127.0.0.1:0", Upstream: up.Addr().String()}}))
	latency := Toxic{Name: "slow", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 10}}
	require.NoError(t, c.AddToxic(t.Context(), "a_to_b", latency))

	cases := []struct {
		name    string
		call    func(context.Context) error
		status  int    // 0: no error
		message string // the API's message, in the error's text
		request string
	}{
		{"a toxic on an unknown proxy", func(ctx context.Context) error { return c.AddToxic(ctx, "nope", latency) },
			404, "proxy not found", "POST /proxies/nope/toxics"},
		{"a toxic of an unknown type", func(ctx context.Context) error {
			return c.AddToxic(ctx, "a_to_b", Toxic{Name: "x", Type: "teleport", Toxicity: 1})
		}, 400, "invalid toxic type", "POST /proxies/a_to_b/toxics"},
		{"a toxic on an unknown stream", func(ctx context.Context) error {
			return c.AddToxic(ctx, "a_to_b", Toxic{Name: "x", Type: "latency", Stream: "sideways", Toxicity: 1})
		}, 400, "stream was invalid", "POST /proxies/a_to_b/toxics"},
		{"a toxic that is there already", func(ctx context.Context) error { return c.AddToxic(ctx, "a_to_b", latency) },
			409, "toxic already exists", "POST /proxies/a_to_b/toxics"},
		{"enabling an unknown proxy", func(ctx context.Context) error { return c.SetEnabled(ctx, "nope", true) },
			404, "proxy not found", "POST /proxies/nope"},
		{"removing a toxic of an unknown proxy", func(ctx context.Context) error { return c.RemoveToxic(ctx, "nope", "slow") },
			404, "proxy not found", "DELETE /proxies/nope/toxics/slow"},
		{"removing a toxic that is not there", func(ctx context.Context) error { return c.RemoveToxic(ctx, "a_to_b", "gone") },
			0, "", ""},
		{"a proxy without upstream", func(ctx context.Context) error {
			return c.Populate(ctx, []ProxySpec{{Name: "x", Listen: "127.0.0.1:0"}})
		},
			400, "missing required field: upstream", "POST /populate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(t.Context())
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.Status)
			assert.Contains(t, apiErr.Message, tc.message)
			assert.Equal(t, tc.request, apiErr.Method+" "+apiErr.Path)
			assert.Contains(t, err.Error(), strconv.Itoa(tc.status))
			assert.Contains(t, err.Error(), tc.message)
			assert.Contains(t, err.Error(), tc.request)
			assert.Equal(t, tc.status == http.StatusNotFound, IsNotFound(err))
		})
	}
	ps, err := c.Proxies(t.Context())
	require.NoError(t, err)
	require.Len(t, ps["a_to_b"].Toxics, 1, "the failed calls changed nothing")
	assert.Equal(t, "slow", ps["a_to_b"].Toxics[0].Name)
	assert.Equal(t, map[string]any{"latency": 10.0, "jitter": 0.0}, ps["a_to_b"].Toxics[0].Attributes)
}

// Answers that are not the API's JSON still give an error with the status and
// what the body said, or the status text when it said nothing (Toxiproxy's
// own 25 s request timeout answers 503 with an empty body).
func TestErrorsOfAnswersThatAreNotTheAPIs(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		message string
	}{
		{"text", http.StatusInternalServerError, "boom\n", "boom"},
		{"empty", http.StatusServiceUnavailable, "", "Service Unavailable"},
		{"json", http.StatusConflict, `{"error":"proxy already exists","status":409}` + "\n", "proxy already exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			err := New(srv.URL).Reset(t.Context())
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.Status)
			assert.Equal(t, tc.message, apiErr.Message)
			assert.EqualError(t, err, "resetting Toxiproxy at "+srv.URL+": POST /reset: "+strconv.Itoa(tc.status)+" "+http.StatusText(tc.status)+": "+tc.message)
		})
	}

	t.Run("a listing that is not JSON", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<html>")
		}))
		t.Cleanup(srv.Close)
		_, err := New(srv.URL).Proxies(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "GET /proxies: decoding the answer")
		assert.False(t, errors.As(err, new(*APIError)))
	})
}
