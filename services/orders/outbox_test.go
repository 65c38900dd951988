package orders

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chaoslab/chaoslab/services/broker"
	"github.com/chaoslab/chaoslab/services/internal/events"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "orders.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// confirmOrder inserts a PENDING order and confirms it within a span, so
// that its event carries that span's trace context.
func confirmOrder(t *testing.T, s *Store, tp trace.TracerProvider, id string) trace.SpanContext {
	t.Helper()
	created := time.Now().UTC()
	o := newOrder(id, "k-"+id, created)
	require.NoError(t, s.Insert(t.Context(), o))
	ctx, span := tp.Tracer("test").Start(t.Context(), "confirm")
	defer span.End()
	o.Status, o.ChargeID, o.TotalCents, o.UpdatedAt = StatusConfirmed, "ch-"+id, 300, created.Add(time.Millisecond)
	require.NoError(t, s.Update(ctx, o))
	return span.SpanContext()
}

// The event of a confirmed order is written in the transaction that
// confirms it: confirming writes exactly one, a failed order or a refused
// second update none, and when the event cannot be written the order is
// not confirmed either.
func TestOutboxIsWrittenInTheConfirmingTransaction(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Run("confirming writes one event with the trace context", func(t *testing.T) {
		s := openTestStore(t)
		sc := confirmOrder(t, s, tp, "ord_1")
		got, err := s.Outbox(t.Context(), 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "order-confirmed-ord_1", got[0].EventID)
		assert.Equal(t, events.TypeOrderConfirmed, got[0].Type)
		assert.Contains(t, got[0].Headers["traceparent"], sc.TraceID().String())
		ev, err := events.Decode(got[0].Payload)
		require.NoError(t, err)
		assert.Equal(t, "ord_1", ev.OrderID)
		assert.Equal(t, int64(300), ev.TotalCents)

		// The order is final: a second confirmation is refused, no second event.
		o, err := s.Get(t.Context(), "ord_1")
		require.NoError(t, err)
		require.ErrorIs(t, s.Update(t.Context(), o), ErrNotPending)
		n, err := s.OutboxBacklog(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	})
	for _, tc := range []struct {
		name   string
		status Status
	}{
		{"a failed order writes no event", StatusFailed},
		{"a pending update writes no event", StatusPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			o := newOrder("ord_2", "k2", time.Now())
			require.NoError(t, s.Insert(t.Context(), o))
			o.Status, o.FailureReason = tc.status, ReasonPaymentDeclined
			require.NoError(t, s.Update(t.Context(), o))
			n, err := s.OutboxBacklog(t.Context())
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
	t.Run("no event, no confirmation", func(t *testing.T) {
		s := openTestStore(t)
		o := newOrder("ord_3", "k3", time.Now())
		require.NoError(t, s.Insert(t.Context(), o))
		// An event with the same id makes the outbox insert fail.
		_, err := s.db.ExecContext(t.Context(), `INSERT INTO outbox (event_id, event_type, order_id, payload, headers, created_at)
			VALUES ('order-confirmed-ord_3', 'x', 'other', x'7b7d', '{}', '2026-01-01T00:00:00.000000000Z')`)
		require.NoError(t, err)
		o.Status, o.ChargeID = StatusConfirmed, "ch_3"
		require.Error(t, s.Update(t.Context(), o))
		got, err := s.Get(t.Context(), "ord_3")
		require.NoError(t, err)
		assert.Equal(t, StatusPending, got.Status, "the confirmation rolled back with its event")
	})
}

func TestOutboxBacklogMetrics(t *testing.T) {
	s := openTestStore(t)
	reg := prometheus.NewRegistry()
	require.NoError(t, registerOutboxBacklog(reg, s))
	confirmOrder(t, s, sdktrace.NewTracerProvider(), "ord_1")
	confirmOrder(t, s, sdktrace.NewTracerProvider(), "ord_2")
	assert.Equal(t, 2.0, testutil.ToFloat64(mustGauge(t, reg, "chaoslab_outbox_backlog")))
	age := testutil.ToFloat64(mustGauge(t, reg, "chaoslab_outbox_oldest_age_seconds"))
	assert.Greater(t, age, 0.0)
	assert.Less(t, age, 60.0)
}

// mustGauge returns the collector gathered under name as a one-metric
// collector for testutil.
func mustGauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetGauge().GetValue()
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(v)
			return g
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func startBroker(t *testing.T, addr, dir string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(t.Context(), broker.Config{Addr: addr, StoreDir: dir}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { b.Shutdown(context.Background()) })
	return b
}

func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.ReconnectBufSize(-1))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// streamMsgs reads every message of the stream.
func streamMsgs(t *testing.T, js jetstream.JetStream) []jetstream.Msg {
	t.Helper()
	s, err := js.Stream(t.Context(), events.Stream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	var out []jetstream.Msg
	if info.State.Msgs == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	batch, err := c.Fetch(int(info.State.Msgs), jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// The relay publishes every event with its trace context and id, and
// deletes an event only after the broker acknowledged it: while the broker
// is down the outbox holds, and after it is back each event is in the
// stream exactly once.
func TestRelayPublishesAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, "127.0.0.1:0", dir)
	addr, url := b.Addr(), b.ClientURL()
	s := openTestStore(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	js := connectJS(t, url)
	reg := prometheus.NewRegistry()
	relay, err := NewRelay(s, js, RelayOptions{TracerProvider: tp, Registerer: reg, PublishTimeout: 300 * time.Millisecond})
	require.NoError(t, err)

	sc := confirmOrder(t, s, tp, "ord_1")
	n, err := relay.Drain(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	// The broker goes away: publishing fails, the events stay.
	require.NoError(t, b.Shutdown(t.Context()))
	confirmOrder(t, s, tp, "ord_2")
	confirmOrder(t, s, tp, "ord_3")
	n, err = relay.Drain(t.Context())
	require.Error(t, err)
	assert.Zero(t, n)
	backlog, err := s.OutboxBacklog(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, backlog, "nothing leaves the outbox without an ack")
	assert.GreaterOrEqual(t, testutil.ToFloat64(relay.metrics.errors.WithLabelValues("publish")), 1.0)

	// Back on the same address and store: the outbox drains.
	startBroker(t, addr, dir)
	require.Eventually(t, func() bool {
		_, err := relay.Drain(t.Context())
		backlog, _ := s.OutboxBacklog(t.Context())
		return err == nil && backlog == 0
	}, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, 3.0, testutil.ToFloat64(relay.metrics.published))

	msgs := streamMsgs(t, js)
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Headers().Get(jetstream.MsgIDHeader))
		assert.Equal(t, events.TypeOrderConfirmed, m.Headers().Get(events.HeaderEventType))
	}
	assert.Equal(t, []string{"order-confirmed-ord_1", "order-confirmed-ord_2", "order-confirmed-ord_3"}, ids)
	// The first message's trace is the confirming span's.
	assert.Contains(t, msgs[0].Headers().Get("traceparent"), sc.TraceID().String())
	var publishSpans int
	for _, sp := range spans.Ended() {
		if sp.SpanKind() == trace.SpanKindProducer {
			publishSpans++
		}
	}
	assert.GreaterOrEqual(t, publishSpans, 3)
}

// An event published twice (its ack was lost, so the relay repeats it) is
// stored once: the relay sends the event id as Nats-Msg-Id.
func TestRelayRepublishIsStoredOnce(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", t.TempDir())
	s := openTestStore(t)
	js := connectJS(t, b.ClientURL())
	relay, err := NewRelay(s, js, RelayOptions{})
	require.NoError(t, err)
	confirmOrder(t, s, sdktrace.NewTracerProvider(), "ord_1")
	pending, err := s.Outbox(t.Context(), 10)
	require.NoError(t, err)
	_, err = relay.Drain(t.Context())
	require.NoError(t, err)
	require.NoError(t, relay.publish(t.Context(), pending[0])) // the repeat
	assert.Len(t, streamMsgs(t, js), 1)
}

// Run keeps relaying until its context ends.
func TestRelayRunDrainsUntilCancelled(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", t.TempDir())
	s := openTestStore(t)
	relay, err := NewRelay(s, connectJS(t, b.ClientURL()), RelayOptions{Interval: 10 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(ctx) }()
	for _, id := range []string{"ord_1", "ord_2"} {
		confirmOrder(t, s, sdktrace.NewTracerProvider(), id)
	}
	require.Eventually(t, func() bool {
		n, err := s.OutboxBacklog(t.Context())
		return err == nil && n == 0
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
}
