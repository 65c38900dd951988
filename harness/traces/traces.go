// Package traces reads traces from Jaeger through the jaeger-idl api_v2
// QueryService over gRPC, into a small model the harness reasons about:
// traces of spans with their service, parent, duration, attributes and
// events (OpenTelemetry span events arrive as Jaeger logs).
package traces

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Event is a span event: its name and attributes.
type Event struct {
	Name  string
	Attrs map[string]string
}

// Span is one span of a trace.
type Span struct {
	TraceID   string
	SpanID    string
	ParentID  string // empty for a root span
	Service   string
	Operation string
	Start     time.Time
	Duration  time.Duration
	Attrs     map[string]string
	Events    []Event
	// Error is true when the span's status is an error.
	Error bool
}

// Trace is the spans of one trace.
type Trace struct {
	ID    string
	Spans []Span
}

// Root returns the trace's root span (the one without a parent in the
// trace), and false when there is none.
func (t Trace) Root() (Span, bool) {
	ids := make(map[string]bool, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	for _, s := range t.Spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			return s, true
		}
	}
	return Span{}, false
}

// Services returns the sorted set of services with spans in the trace.
func (t Trace) Services() []string {
	set := map[string]bool{}
	for _, s := range t.Spans {
		set[s.Service] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Orphans returns spans whose parent is not in the trace (besides the root).
func (t Trace) Orphans() []Span {
	ids := make(map[string]bool, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	var out []Span
	for _, s := range t.Spans {
		if s.ParentID != "" && !ids[s.ParentID] {
			out = append(out, s)
		}
	}
	return out
}

// Client queries Jaeger.
type Client struct {
	conn *grpc.ClientConn
	q    api_v2.QueryServiceClient
}

// Dial returns a client of Jaeger's api_v2 QueryService at addr (host:port,
// Jaeger's query gRPC port, 16685 by default).
func Dial(addr string) (*Client, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(gogoCodec{})),
	)
	if err != nil {
		return nil, fmt.Errorf("dialing Jaeger query at %s: %w", addr, err)
	}
	return &Client{conn: conn, q: api_v2.NewQueryServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Services lists the services Jaeger has spans of.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	resp, err := c.q.GetServices(ctx, &api_v2.GetServicesRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing Jaeger services: %w", err)
	}
	return resp.GetServices(), nil
}

// Query selects traces by their spans.
type Query struct {
	// Service and Operation select traces with a span of that service (and
	// operation, when set).
	Service, Operation string
	// Start and End bound the spans' start times.
	Start, End time.Time
	// Limit is the most traces returned (Jaeger's search depth); default 100.
	Limit int
}

// Find returns the traces matching q, each with all of its spans.
func (c *Client) Find(ctx context.Context, q Query) ([]Trace, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	stream, err := c.q.FindTraces(ctx, &api_v2.FindTracesRequest{Query: &api_v2.TraceQueryParameters{
		ServiceName: q.Service, OperationName: q.Operation,
		StartTimeMin: q.Start, StartTimeMax: q.End, SearchDepth: int32(q.Limit),
	}})
	if err != nil {
		return nil, fmt.Errorf("finding traces of %s %q: %w", q.Service, q.Operation, err)
	}
	byID := map[string]*Trace{}
	var order []string
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("finding traces of %s %q: %w", q.Service, q.Operation, err)
		}
		for i := range chunk.Spans {
			s := convert(&chunk.Spans[i])
			t, ok := byID[s.TraceID]
			if !ok {
				t = &Trace{ID: s.TraceID}
				byID[s.TraceID] = t
				order = append(order, s.TraceID)
			}
			t.Spans = append(t.Spans, s)
		}
	}
	out := make([]Trace, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}

func convert(s *model.Span) Span {
	sp := Span{
		TraceID:   s.TraceID.String(),
		SpanID:    s.SpanID.String(),
		Operation: s.OperationName,
		Start:     s.StartTime,
		Duration:  s.Duration,
		Attrs:     map[string]string{},
	}
	if p := s.ParentSpanID(); p != 0 {
		sp.ParentID = p.String()
	}
	if s.Process != nil {
		sp.Service = s.Process.ServiceName
	}
	for i := range s.Tags {
		kv := &s.Tags[i]
		sp.Attrs[kv.Key] = kv.AsString()
		if kv.Key == "error" && kv.AsString() == "true" {
			sp.Error = true
		}
		if kv.Key == "otel.status_code" && kv.AsString() == "ERROR" {
			sp.Error = true
		}
	}
	for _, l := range s.Logs {
		ev := Event{Attrs: map[string]string{}}
		for i := range l.Fields {
			f := &l.Fields[i]
			if f.Key == "event" {
				ev.Name = f.AsString()
				continue
			}
			ev.Attrs[f.Key] = f.AsString()
		}
		sp.Events = append(sp.Events, ev)
	}
	return sp
}

// gogoCodec marshals jaeger-idl's gogo-generated messages (stdtime fields,
// custom types), which grpc-go's default codec cannot, through their own
// Marshal and Unmarshal methods.
type gogoCodec struct{}

type gogoMessage interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

func (gogoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(gogoMessage)
	if !ok {
		return nil, fmt.Errorf("gogo codec: %T is not a gogo message", v)
	}
	return m.Marshal()
}

func (gogoCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(gogoMessage)
	if !ok {
		return fmt.Errorf("gogo codec: %T is not a gogo message", v)
	}
	return m.Unmarshal(data)
}

func (gogoCodec) Name() string { return "proto" }
