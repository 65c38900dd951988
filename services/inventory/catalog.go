package inventory

// plentiful is the stock of the regular catalog: enough that long load tests
// never run out.
const plentiful = 1_000_000

// LimitedSKU is the product with little stock, for out-of-stock scenarios.
const LimitedSKU = "sku-limited"

// DefaultCatalog returns the products the service seeds on start: eight
// products with plentiful stock and LimitedSKU with 5 units.
func DefaultCatalog() []Product {
	return []Product{
		{SKU: "sku-1", Name: "Chaos Monkey plush", PriceCents: 1999, Available: plentiful},
		{SKU: "sku-2", Name: "Circuit Breaker mug", PriceCents: 1299, Available: plentiful},
		{SKU: "sku-3", Name: "Retry with Backoff T-shirt", PriceCents: 2499, Available: plentiful},
		{SKU: "sku-4", Name: "Idempotency Key keychain", PriceCents: 599, Available: plentiful},
		{SKU: "sku-5", Name: "P99 Latency hoodie", PriceCents: 4999, Available: plentiful},
		{SKU: "sku-6", Name: "Error Budget notebook", PriceCents: 899, Available: plentiful},
		{SKU: "sku-7", Name: "Trace Span sticker pack", PriceCents: 399, Available: plentiful},
		{SKU: "sku-8", Name: "Graceful Shutdown socks", PriceCents: 1099, Available: plentiful},
		{SKU: LimitedSKU, Name: "Limited edition pager", PriceCents: 9999, Available: 5},
	}
}
