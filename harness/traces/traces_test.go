package traces

import (
	"context"
	"net"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// fakeQuery streams canned spans in two chunks, as Jaeger does.
type fakeQuery struct {
	api_v2.UnimplementedQueryServiceServer
	spans []model.Span
	got   *api_v2.TraceQueryParameters
}

func (f *fakeQuery) FindTraces(req *api_v2.FindTracesRequest, stream api_v2.QueryService_FindTracesServer) error {
	f.got = req.Query
	half := len(f.spans) / 2
	if err := stream.Send(&api_v2.SpansResponseChunk{Spans: f.spans[:half]}); err != nil {
		return err
	}
	return stream.Send(&api_v2.SpansResponseChunk{Spans: f.spans[half:]})
}

func (f *fakeQuery) GetServices(context.Context, *api_v2.GetServicesRequest) (*api_v2.GetServicesResponse, error) {
	return &api_v2.GetServicesResponse{Services: []string{"gateway", "orders"}}, nil
}

func span(trace uint64, id, parent uint64, service, op string, logs ...model.Log) model.Span {
	s := model.Span{
		TraceID: model.NewTraceID(0, trace), SpanID: model.SpanID(id), OperationName: op,
		StartTime: time.Unix(100, 0).UTC(), Duration: 30 * time.Millisecond,
		Process: &model.Process{ServiceName: service}, Logs: logs,
		Tags: []model.KeyValue{model.String("otel.status_code", "OK")},
	}
	if parent != 0 {
		s.References = []model.SpanRef{model.NewChildOfRef(s.TraceID, model.SpanID(parent))}
	}
	return s
}

func TestFindGroupsSpansIntoTracesWithEvents(t *testing.T) {
	retry := model.Log{Timestamp: time.Unix(100, 0).UTC(), Fields: []model.KeyValue{
		model.String("event", "retry"), model.String("peer.service", "payments"), model.Int64("rpc.attempt", 2),
	}}
	fake := &fakeQuery{spans: []model.Span{
		span(1, 1, 0, "gateway", "POST /v1/orders"),
		span(1, 2, 1, "orders", "/orders.v1.OrdersService/PlaceOrder", retry),
		span(2, 3, 0, "gateway", "POST /v1/orders"),
		span(1, 4, 2, "payments", "/payments.v1.PaymentsService/Charge"),
	}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.ForceServerCodec(gogoCodec{}))
	api_v2.RegisterQueryServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	c, err := Dial(lis.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })

	services, err := c.Services(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"gateway", "orders"}, services)

	start := time.Unix(50, 0).UTC()
	got, err := c.Find(t.Context(), Query{Service: "gateway", Operation: "POST /v1/orders", Start: start, End: start.Add(time.Hour)})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "gateway", fake.got.ServiceName)
	assert.EqualValues(t, 100, fake.got.SearchDepth, "default limit")
	assert.True(t, fake.got.StartTimeMin.Equal(start))

	tr := got[0]
	assert.Equal(t, []string{"gateway", "orders", "payments"}, tr.Services())
	root, ok := tr.Root()
	require.True(t, ok)
	assert.Equal(t, "POST /v1/orders", root.Operation)
	assert.Empty(t, tr.Orphans())
	var orders Span
	for _, s := range tr.Spans {
		if s.Service == "orders" {
			orders = s
		}
	}
	assert.Equal(t, root.SpanID, orders.ParentID)
	require.Len(t, orders.Events, 1)
	assert.Equal(t, "retry", orders.Events[0].Name)
	assert.Equal(t, "payments", orders.Events[0].Attrs["peer.service"])
	assert.Equal(t, "2", orders.Events[0].Attrs["rpc.attempt"])
	assert.Equal(t, 30*time.Millisecond, orders.Duration)
	assert.False(t, orders.Error)
}

func TestOrphansAreReported(t *testing.T) {
	tr := Trace{Spans: []Span{{SpanID: "a"}, {SpanID: "b", ParentID: "a"}, {SpanID: "c", ParentID: "zz"}}}
	orphans := tr.Orphans()
	require.Len(t, orphans, 1)
	assert.Equal(t, "c", orphans[0].SpanID)
}
