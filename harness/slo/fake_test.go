package slo

import (
	"context"
	"fmt"
	"math"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// reply is what the fake Prometheus answers to one query.
type reply struct {
	v        model.Value
	warnings promv1.Warnings
	err      error
}

// call is one query the fake Prometheus received.
type call struct {
	query string
	ts    time.Time    // instant queries
	r     promv1.Range // range queries
}

// fakeProm answers instant queries by query and time and range queries by
// query, and records what it was asked. A query it was not told about is an
// error, so that a wrong query or time shows in the outcome.
type fakeProm struct {
	instant map[string]reply // key(query, ts)
	ranges  map[string]reply // query
	calls   []call
}

func key(query string, ts time.Time) string { return query + "@" + ts.UTC().Format(time.RFC3339Nano) }

func (f *fakeProm) Query(_ context.Context, query string, ts time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	f.calls = append(f.calls, call{query: query, ts: ts})
	r, ok := f.instant[key(query, ts)]
	if !ok {
		return nil, nil, fmt.Errorf("fake: unexpected query %s", key(query, ts))
	}
	return r.v, r.warnings, r.err
}

func (f *fakeProm) QueryRange(_ context.Context, query string, rg promv1.Range, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	f.calls = append(f.calls, call{query: query, r: rg})
	r, ok := f.ranges[query]
	if !ok {
		return nil, nil, fmt.Errorf("fake: unexpected range query %s", query)
	}
	return r.v, r.warnings, r.err
}

// vec is an instant vector with one sample per value, each its own series.
func vec(values ...float64) model.Vector {
	out := model.Vector{}
	for i, v := range values {
		out = append(out, &model.Sample{
			Metric: model.Metric{"code": model.LabelValue(fmt.Sprint(200 + i))},
			Value:  model.SampleValue(v),
		})
	}
	return out
}

// missing marks a step without a sample in stream.
var missing = math.Inf(-1)

// stream is a matrix of one series sampled every step from start; a value
// of missing leaves that step out.
func stream(start time.Time, step time.Duration, values ...float64) model.Matrix {
	s := &model.SampleStream{Metric: model.Metric{}}
	for i, v := range values {
		if v == missing {
			continue
		}
		s.Values = append(s.Values, model.SamplePair{
			Timestamp: model.TimeFromUnixNano(start.Add(time.Duration(i) * step).UnixNano()),
			Value:     model.SampleValue(v),
		})
	}
	return model.Matrix{s}
}

// repeat returns n copies of v.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
