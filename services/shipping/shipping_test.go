package shipping

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chaoslab/chaoslab/services/broker"
	"github.com/chaoslab/chaoslab/services/internal/events"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "shipping.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func event(order string) events.OrderConfirmed {
	return events.OrderConfirmed{EventID: "order-confirmed-" + order, OrderID: order, ConfirmedAt: time.Now().Add(-time.Second)}
}

// With dedup, an event processed twice records one shipment; without, two.
func TestStoreDeduplicatesByEventID(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dedup bool
		want  int
	}{
		{"dedup on: one shipment", true, 1},
		{"dedup off: one per delivery", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			ev := event("ord_1")
			_, first, err := s.Record(t.Context(), ev, tc.dedup, time.Now())
			require.NoError(t, err)
			assert.True(t, first)
			_, second, err := s.Record(t.Context(), ev, tc.dedup, time.Now())
			require.NoError(t, err)
			assert.Equal(t, !tc.dedup, second)
			list, err := s.List(t.Context())
			require.NoError(t, err)
			assert.Len(t, list, tc.want)
			for _, sh := range list {
				assert.Equal(t, "ord_1", sh.OrderID)
			}
		})
	}
}

type lab struct {
	broker *broker.Broker
	js     jetstream.JetStream
	url    string
}

func startLab(t *testing.T) lab {
	t.Helper()
	b, err := broker.Start(t.Context(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir()}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { b.Shutdown(context.Background()) })
	return lab{broker: b, js: connect(t, b.ClientURL()), url: b.ClientURL()}
}

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = events.EnsureStream(t.Context(), js)
	require.NoError(t, err)
	return js
}

// publish sends ev with the trace context of ctx, as orders' relay does;
// msgID "" sends none (so that JetStream stores a repeat again).
func publish(t *testing.T, ctx context.Context, js jetstream.JetStream, ev events.OrderConfirmed, msgID string) {
	t.Helper()
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	msg := nats.NewMsg(events.SubjectOrderConfirmed)
	msg.Data = data
	propagation.TraceContext{}.Inject(ctx, events.HeaderCarrier(msg.Header))
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	_, err = js.PublishMsg(t.Context(), msg, opts...)
	require.NoError(t, err)
}

func runConsumer(t *testing.T, c *Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitShipments(t *testing.T, s *Store, n int) []Shipment {
	t.Helper()
	var list []Shipment
	require.Eventually(t, func() bool {
		var err error
		list, err = s.List(t.Context())
		return err == nil && len(list) >= n
	}, 10*time.Second, 20*time.Millisecond)
	return list
}

// The consumer records one shipment per order even when an event is in
// the stream twice (a relay that repeated a publish beyond JetStream's
// duplicate window), and its span is in the publisher's trace.
func TestConsumerRecordsOneShipmentPerOrder(t *testing.T) {
	l := startLab(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	checkout, span := tp.Tracer("test").Start(t.Context(), "checkout")
	span.End()
	for _, o := range []string{"ord_1", "ord_2", "ord_3"} {
		publish(t, checkout, l.js, event(o), "")
	}
	publish(t, checkout, l.js, event("ord_2"), "") // the repeat

	s := openStore(t)
	reg := prometheus.NewRegistry()
	c, err := NewConsumer(s, connect(t, l.url), ConsumerOptions{Dedup: true, TracerProvider: tp, Registerer: reg, FetchWait: 100 * time.Millisecond})
	require.NoError(t, err)
	runConsumer(t, c)
	waitShipments(t, s, 3)
	require.Eventually(t, func() bool {
		lag, err := c.Lag(t.Context())
		return err == nil && lag.Pending == 0 && lag.AckPending == 0
	}, 10*time.Second, 20*time.Millisecond)
	list, err := s.List(t.Context())
	require.NoError(t, err)
	assert.Len(t, list, 3)
	assert.Equal(t, 1.0, testutil.ToFloat64(c.m.events.WithLabelValues(resultDuplicate)))
	assert.Equal(t, 3.0, testutil.ToFloat64(c.m.events.WithLabelValues(resultRecorded)))
	assert.Equal(t, uint64(3), histCount(t, reg, "chaoslab_shipping_freshness_seconds"), "freshness is observed once per order")

	var consumerSpans int
	for _, sp := range spans.Ended() {
		if sp.SpanKind() == trace.SpanKindConsumer {
			consumerSpans++
			assert.Equal(t, span.SpanContext().TraceID(), sp.SpanContext().TraceID(), "the consumer's span is in the checkout's trace")
			assert.Equal(t, span.SpanContext().SpanID(), sp.Parent().SpanID())
		}
	}
	assert.Equal(t, 4, consumerSpans)
}

func histCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A consumer that recorded part of a batch and died before acking gets the
// batch again after AckWait: with dedup it still has one shipment per
// order, and the redeliveries are counted; without dedup the redelivered
// events ship twice (what the expect-fail scenario shows).
func TestRedeliveryAfterACrashMidBatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dedup bool
		want  int
	}{
		{"dedup: exactly one shipment per order", true, 3},
		{"no dedup: the recorded part ships twice", false, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLab(t)
			for _, o := range []string{"ord_1", "ord_2", "ord_3"} {
				publish(t, t.Context(), l.js, event(o), "")
			}
			s := openStore(t)
			opts := ConsumerOptions{Dedup: tc.dedup, AckWait: 300 * time.Millisecond, FetchWait: 100 * time.Millisecond}

			// The first consumer records two of the three and "crashes":
			// nothing is acked.
			crashed, err := NewConsumer(s, connect(t, l.url), opts)
			require.NoError(t, err)
			cons, err := crashed.ensure(t.Context())
			require.NoError(t, err)
			batch, err := cons.Fetch(3, jetstream.FetchMaxWait(time.Second))
			require.NoError(t, err)
			n := 0
			for msg := range batch.Messages() {
				if n < 2 {
					var ev events.OrderConfirmed
					require.NoError(t, json.Unmarshal(msg.Data(), &ev))
					_, _, err := s.Record(t.Context(), ev, tc.dedup, time.Now())
					require.NoError(t, err)
				}
				n++
			}
			require.Equal(t, 3, n)

			// Its successor on the same durable consumer gets them again.
			c, err := NewConsumer(s, connect(t, l.url), opts)
			require.NoError(t, err)
			runConsumer(t, c)
			require.Eventually(t, func() bool {
				lag, err := c.Lag(t.Context())
				return err == nil && lag.Pending == 0 && lag.AckPending == 0
			}, 10*time.Second, 20*time.Millisecond)
			list, err := s.List(t.Context())
			require.NoError(t, err)
			assert.Len(t, list, tc.want)
			perOrder := map[string]int{}
			for _, sh := range list {
				perOrder[sh.OrderID]++
			}
			assert.Len(t, perOrder, 3)
			assert.Equal(t, 3.0, testutil.ToFloat64(c.m.redeliveries))
		})
	}
}

func TestServer(t *testing.T) {
	s := openStore(t)
	_, _, err := s.Record(t.Context(), event("ord_1"), true, time.Now())
	require.NoError(t, err)
	for _, tc := range []struct {
		name, path string
		lag        lagReader
		status     int
		want       string
	}{
		{"shipments", "/v1/shipments", fakeLag{}, http.StatusOK, `"order_id":"ord_1"`},
		{"consumer lag", "/v1/consumer", fakeLag{lag: Lag{Pending: 4, AckPending: 2}}, http.StatusOK, `{"pending":4,"ack_pending":2,"redelivered":0}`},
		{"consumer lag without a broker", "/v1/consumer", fakeLag{err: context.DeadlineExceeded}, http.StatusServiceUnavailable, `"title":"reading the consumer's lag"`},
		{"unknown route", "/v1/nope", fakeLag{}, http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer(s, tc.lag)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			assert.Equal(t, tc.status, rec.Code)
			assert.Contains(t, rec.Body.String(), tc.want)
		})
	}
}

type fakeLag struct {
	lag Lag
	err error
}

func (f fakeLag) Lag(context.Context) (Lag, error) { return f.lag, f.err }
