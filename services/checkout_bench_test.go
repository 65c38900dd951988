package services_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/chaoslab/chaoslab/services/internal/shoptest"
)

// BenchmarkCheckout places orders through the gateway of an in-process shop
// (four services, real gRPC and SQLite with durable commits) with
// instrumentation on and off. `make bench-checkout` runs both and prints
// the throughput ratio instrumented/uninstrumented (target ≥ 0.85).
func BenchmarkCheckout(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts shoptest.Options
	}{
		{"instrumented", shoptest.Options{}},
		{"uninstrumented", shoptest.Options{Uninstrumented: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			shop := shoptest.Start(b, bc.opts)
			var seq atomic.Int64
			b.SetParallelism(4) // 4×GOMAXPROCS clients keep every service busy
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("bench-%s-%d", bc.name, seq.Add(1))
					if code, _, err := shop.Checkout(b.Context(), key, "sku-1", 1); code != 201 {
						b.Errorf("checkout: %d %v", code, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
		})
	}
}
