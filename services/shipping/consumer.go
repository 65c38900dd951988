package shipping

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/chaoslab/chaoslab/services/internal/events"
)

const tracerName = "github.com/chaoslab/chaoslab/services/shipping"

// Durable is the name of shipping's JetStream consumer.
const Durable = "shipping"

// Results of processing one event (the result label).
const (
	resultRecorded  = "recorded"
	resultDuplicate = "duplicate"
	resultError     = "error"
	resultInvalid   = "invalid"
)

// ConsumerOptions configures a Consumer. Zero values select the documented
// defaults.
type ConsumerOptions struct {
	// Logger receives the consumer's log lines. Default: discards.
	Logger *slog.Logger
	// TracerProvider makes the processing spans. Default: no-op.
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context from the message headers.
	// Default: W3C trace context.
	Propagator propagation.TextMapPropagator
	// Registerer receives the consumer's metrics. Default: a fresh registry.
	Registerer prometheus.Registerer
	// Dedup deduplicates by event id (off: every delivery ships).
	Dedup bool
	// ProcessingDelay is added to the processing of each event (a slow
	// consumer). Default: none.
	ProcessingDelay time.Duration
	// Batch is how many messages one fetch asks for. Default: 20.
	Batch int
	// FetchWait bounds the wait of a fetch for messages. Default: 500ms.
	FetchWait time.Duration
	// AckWait is how long JetStream waits for a delivered message's ack
	// before it delivers it again. Default: 2s.
	AckWait time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Consumer records shipments from OrderConfirmed events. It acks a batch
// once all of it is recorded: a consumer killed mid-batch gets the whole
// batch again, and deduplication absorbs the part it had recorded.
type Consumer struct {
	store  *Store
	js     jetstream.JetStream
	opts   ConsumerOptions
	log    *slog.Logger
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	m      consumerMetrics

	mu   sync.Mutex // guards cons: the HTTP API reads the lag concurrently
	cons jetstream.Consumer
}

type consumerMetrics struct {
	events       *prometheus.CounterVec
	redeliveries prometheus.Counter
	pending      prometheus.Gauge
	ackPending   prometheus.Gauge
	processing   prometheus.Histogram
	freshness    prometheus.Histogram
}

// FreshnessBuckets are the buckets of the order confirmed → shipment
// recorded histogram; they include the shipping-freshness SLO's 2.5 s, a
// bound that is not an integer: OpenMetrics writes le="2" as "2.0", which a
// selector le="2" does not match.
var FreshnessBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30, 60}

// NewConsumer returns a consumer that records shipments in store from js.
func NewConsumer(store *Store, js jetstream.JetStream, opts ConsumerOptions) (*Consumer, error) {
	if store == nil || js == nil {
		return nil, errors.New("creating shipping consumer: store and jetstream are required")
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
	if opts.Batch <= 0 {
		opts.Batch = 20
	}
	if opts.FetchWait <= 0 {
		opts.FetchWait = 500 * time.Millisecond
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := consumerMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_shipping_events_total",
			Help: "OrderConfirmed deliveries processed, by result (recorded, duplicate, error, invalid).",
		}, []string{"result"}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chaoslab_shipping_redeliveries_total",
			Help: "Deliveries JetStream made again (an earlier delivery of the message was not acked in time).",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chaoslab_shipping_consumer_pending",
			Help: "Messages of the stream not yet delivered to shipping's consumer (its lag, JetStream's num_pending).",
		}),
		ackPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chaoslab_shipping_consumer_ack_pending",
			Help: "Messages delivered to shipping's consumer and not acked yet (num_ack_pending).",
		}),
		processing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chaoslab_shipping_processing_seconds",
			Help:    "Time to process one OrderConfirmed delivery (decode, record, commit).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chaoslab_shipping_freshness_seconds",
			Help:    "Time from an order's confirmation (the event's confirmed_at) to its shipment being recorded.",
			Buckets: FreshnessBuckets,
		}),
	}
	for _, c := range []prometheus.Collector{m.events, m.redeliveries, m.pending, m.ackPending, m.processing, m.freshness} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("registering shipping metrics: %w", err)
		}
	}
	for _, r := range []string{resultRecorded, resultDuplicate, resultError, resultInvalid} {
		m.events.WithLabelValues(r)
	}
	return &Consumer{
		store: store, js: js, opts: opts, log: opts.Logger, m: m,
		tracer: opts.TracerProvider.Tracer(tracerName), prop: opts.Propagator,
	}, nil
}

// ConsumerConfig is the durable pull consumer's configuration.
func (c *Consumer) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       Durable,
		FilterSubject: events.SubjectOrderConfirmed,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opts.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
		MaxAckPending: 1000,
	}
}

// ensure creates the stream and the durable consumer once.
func (c *Consumer) ensure(ctx context.Context) (jetstream.Consumer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cons != nil {
		return c.cons, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := events.EnsureStream(ctx, c.js); err != nil {
		return nil, err
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, events.Stream, c.ConsumerConfig())
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s: %w", Durable, err)
	}
	c.cons = cons
	return cons, nil
}

// forget drops the cached consumer, so that the next poll creates it again.
func (c *Consumer) forget() {
	c.mu.Lock()
	c.cons = nil
	c.mu.Unlock()
}

// Run fetches and processes batches until ctx is cancelled, retrying
// (every 250ms) while the broker cannot be reached.
func (c *Consumer) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := c.Poll(ctx); err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "consuming OrderConfirmed", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// Poll fetches one batch (waiting up to FetchWait), processes it and acks
// what was recorded or found a duplicate, then refreshes the lag gauges.
func (c *Consumer) Poll(ctx context.Context) error {
	cons, err := c.ensure(ctx)
	if err != nil {
		return err
	}
	batch, err := cons.Fetch(c.opts.Batch, jetstream.FetchMaxWait(c.opts.FetchWait))
	if err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			c.forget() // a broker that lost its store: create them again
		}
		return fmt.Errorf("fetching: %w", err)
	}
	var done []jetstream.Msg
	for msg := range batch.Messages() {
		if c.process(ctx, msg) {
			done = append(done, msg)
		}
	}
	// The batch is acked once all of it is recorded; a crash before this
	// point redelivers it after AckWait.
	for _, msg := range done {
		if err := msg.Ack(); err != nil {
			c.log.WarnContext(ctx, "acking", "error", err)
		}
	}
	c.updateLag(ctx, cons)
	if err := batch.Error(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("fetching: %w", err)
	}
	return nil
}

// process records one delivery; it reports whether the message may be
// acked (recorded, or a duplicate). A message that cannot be decoded is
// terminated: no redelivery will make it valid.
func (c *Consumer) process(ctx context.Context, msg jetstream.Msg) bool {
	start := c.opts.Now()
	parent := c.prop.Extract(ctx, events.HeaderCarrier(msg.Headers()))
	ctx, span := c.tracer.Start(parent, "shipping.record "+events.SubjectOrderConfirmed,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", Durable),
			attribute.Bool("shipping.dedup", c.opts.Dedup),
		))
	defer span.End()
	if md, err := msg.Metadata(); err == nil {
		span.SetAttributes(attribute.Int64("messaging.delivery.count", int64(md.NumDelivered)))
		if md.NumDelivered > 1 {
			c.m.redeliveries.Inc()
		}
	}
	ev, err := events.Decode(msg.Data())
	if err != nil {
		c.fail(ctx, span, resultInvalid, err)
		_ = msg.Term()
		return false
	}
	span.SetAttributes(attribute.String("messaging.message.id", ev.EventID), attribute.String("order.id", ev.OrderID))
	if c.opts.ProcessingDelay > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(c.opts.ProcessingDelay):
		}
	}
	now := c.opts.Now()
	sh, recorded, err := c.store.Record(context.WithoutCancel(ctx), ev, c.opts.Dedup, now)
	if err != nil {
		c.fail(ctx, span, resultError, err)
		_ = msg.NakWithDelay(500 * time.Millisecond)
		return false
	}
	c.m.processing.Observe(c.opts.Now().Sub(start).Seconds())
	if !recorded {
		c.m.events.WithLabelValues(resultDuplicate).Inc()
		span.SetAttributes(attribute.Bool("shipping.duplicate", true))
		c.log.InfoContext(ctx, "duplicate event, shipment exists", "order_id", ev.OrderID, "event_id", ev.EventID)
		return true
	}
	c.m.events.WithLabelValues(resultRecorded).Inc()
	if !ev.ConfirmedAt.IsZero() {
		c.m.freshness.Observe(max(0, now.Sub(ev.ConfirmedAt).Seconds()))
	}
	span.SetAttributes(attribute.String("shipment.id", sh.ID))
	c.log.InfoContext(ctx, "shipment recorded", "order_id", ev.OrderID, "event_id", ev.EventID, "shipment_id", sh.ID)
	return true
}

func (c *Consumer) fail(ctx context.Context, span trace.Span, result string, err error) {
	c.m.events.WithLabelValues(result).Inc()
	span.RecordError(err)
	span.SetStatus(otelcodes.Error, err.Error())
	c.log.ErrorContext(ctx, "processing OrderConfirmed", "result", result, "error", err)
}

// Lag is the consumer's position as JetStream reports it.
type Lag struct {
	// Pending messages not yet delivered.
	Pending uint64 `json:"pending"`
	// AckPending messages delivered and not acked.
	AckPending int `json:"ack_pending"`
	// Redelivered messages being delivered again.
	Redelivered int `json:"redelivered"`
}

// Lag asks JetStream where the consumer is.
func (c *Consumer) Lag(ctx context.Context) (Lag, error) {
	cons, err := c.ensure(ctx)
	if err != nil {
		return Lag{}, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return Lag{}, fmt.Errorf("consumer %s info: %w", Durable, err)
	}
	return Lag{Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered}, nil
}

func (c *Consumer) updateLag(ctx context.Context, cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	c.m.pending.Set(float64(info.NumPending))
	c.m.ackPending.Set(float64(info.NumAckPending))
}
