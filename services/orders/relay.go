package orders

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chaoslab/chaoslab/services/internal/events"
)

// publisher is what the relay needs of JetStream; jetstream.JetStream
// satisfies it.
type publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
	CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
}

// RelayOptions configures a Relay. Zero values select the documented defaults.
type RelayOptions struct {
	// Logger receives the relay's log lines. Default: discards.
	Logger *slog.Logger
	// TracerProvider makes the relay's publish spans. Default: no-op.
	TracerProvider trace.TracerProvider
	// Propagator reads the stored trace context and writes it into the
	// message headers. Default: W3C trace context.
	Propagator propagation.TextMapPropagator
	// Registerer receives the relay's metrics. Default: a fresh registry.
	Registerer prometheus.Registerer
	// Interval is how often the outbox is polled when it was empty.
	// Default: 50ms.
	Interval time.Duration
	// Batch is how many events one pass reads. Default: 100.
	Batch int
	// PublishTimeout bounds each publish, its ack included. Default: 1s.
	PublishTimeout time.Duration
	// MaxBackoff caps the wait after failed passes (it starts at Interval
	// and doubles). Default: 1s.
	MaxBackoff time.Duration
}

// Relay publishes the outbox to JetStream, at least once: an event leaves
// the outbox only after the broker acknowledged it (stored it in the
// stream). A publish whose ack was lost is repeated; its Nats-Msg-Id (the
// event id) lets JetStream store it once within events.DuplicateWindow, and
// consumers deduplicate by event id beyond that.
type Relay struct {
	store   *Store
	js      publisher
	log     *slog.Logger
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	opts    RelayOptions
	stream  bool // the stream was created or updated
	metrics relayMetrics
}

type relayMetrics struct {
	published prometheus.Counter
	errors    *prometheus.CounterVec
}

// NewRelay returns a relay of store's outbox to js.
func NewRelay(store *Store, js publisher, opts RelayOptions) (*Relay, error) {
	if store == nil || js == nil {
		return nil, errors.New("creating outbox relay: store and publisher are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	if opts.Propagator == nil {
		opts.Propagator = propagation.TraceContext{}
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Interval <= 0 {
		opts.Interval = 50 * time.Millisecond
	}
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Second
	}
	m := relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chaoslab_outbox_published_total",
			Help: "Outbox events the broker acknowledged (then deleted from the outbox).",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_outbox_publish_errors_total",
			Help: "Failed attempts to publish an outbox event (the event stays in the outbox and is retried), by stage (stream, publish, delete).",
		}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{m.published, m.errors} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("registering relay metrics: %w", err)
		}
	}
	for _, st := range []string{"stream", "publish", "delete"} {
		m.errors.WithLabelValues(st)
	}
	return &Relay{
		store: store, js: js, log: opts.Logger, opts: opts, metrics: m,
		tracer: opts.TracerProvider.Tracer(tracerName), prop: opts.Propagator,
	}, nil
}

// Run relays until ctx is cancelled: a pass after each Interval, at once
// again after a full batch, with a doubling backoff after a failed pass.
func (r *Relay) Run(ctx context.Context) {
	wait := r.opts.Interval
	for {
		n, err := r.Drain(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			r.log.WarnContext(ctx, "relaying the outbox", "published", n, "retry_in", wait.String(), "error", err)
			wait = min(wait*2, r.opts.MaxBackoff)
		case n == r.opts.Batch:
			wait = 0 // more is waiting
		default:
			wait = r.opts.Interval
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		if err == nil {
			wait = r.opts.Interval
		}
	}
}

// Drain makes one pass: it publishes up to Batch events oldest first,
// deleting each after its ack, and stops at the first failure (order is
// kept: a later event is not published before an earlier one). It returns
// how many events were published.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	if !r.stream {
		sctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
		_, err := events.EnsureStream(sctx, r.js)
		cancel()
		if err != nil {
			r.metrics.errors.WithLabelValues("stream").Inc()
			return 0, err
		}
		r.stream = true
	}
	batch, err := r.store.Outbox(ctx, r.opts.Batch)
	if err != nil {
		return 0, err
	}
	for i, e := range batch {
		if err := r.publish(ctx, e); err != nil {
			r.metrics.errors.WithLabelValues("publish").Inc()
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound) {
				r.stream = false // a broker that lost its store: create the stream again
			}
			return i, err
		}
		// Acknowledged: only now may the event leave the outbox. A crash
		// here publishes it again after the restart (at least once).
		if err := r.store.DeleteOutbox(context.WithoutCancel(ctx), e.Seq); err != nil {
			r.metrics.errors.WithLabelValues("delete").Inc()
			return i, err
		}
		r.metrics.published.Inc()
	}
	return len(batch), nil
}

// publish sends one event and waits for the stream's ack. The span is a
// child of the context stored with the event (the checkout's trace) and is
// what the message headers carry on.
func (r *Relay) publish(ctx context.Context, e OutboxEvent) error {
	parent := r.prop.Extract(ctx, propagation.MapCarrier(e.Headers))
	pctx, span := r.tracer.Start(parent, "outbox.publish "+events.SubjectOrderConfirmed,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", events.SubjectOrderConfirmed),
			attribute.String("messaging.message.id", e.EventID),
			attribute.String("order.id", e.OrderID),
		))
	defer span.End()
	msg := nats.NewMsg(events.SubjectOrderConfirmed)
	msg.Data = e.Payload
	msg.Header.Set(events.HeaderEventType, e.Type)
	r.prop.Inject(pctx, events.HeaderCarrier(msg.Header))
	pctx, cancel := context.WithTimeout(pctx, r.opts.PublishTimeout)
	defer cancel()
	if _, err := r.js.PublishMsg(pctx, msg, jetstream.WithMsgID(e.EventID), jetstream.WithExpectStream(events.Stream)); err != nil {
		err = fmt.Errorf("publishing event %s of order %s: %w", e.EventID, e.OrderID, err)
		recordError(span, err)
		return err
	}
	return nil
}
