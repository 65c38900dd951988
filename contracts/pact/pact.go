// Package pact is a small consumer-driven contract format for gRPC, in the
// spirit of Pact: the consumer's tests record the calls it makes and, for
// each answer, the fields it reads (Fields finds them by probing the
// consumer); the provider's tests replay the calls against the real provider
// and check every recorded field (Check).
//
// A field is "read" when clearing it changes what the consumer does. Its
// expectation is Equals when changing its value changes the consumer's
// decision (the failure reason that picks an HTTP status), else Type: it
// must be present (non-zero) with the recorded field number and type.
package pact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Match kinds of a Field.
const (
	// MatchType requires the field to be set (non-zero, non-empty) with the
	// recorded number and type; an enum must hold a defined value.
	MatchType = "type"
	// MatchEquals also requires the value to be Field.Value.
	MatchEquals = "equals"
)

// Pact is the contract of one consumer on one gRPC service of a provider.
type Pact struct {
	// Consumer and Provider name the two sides, e.g. "gateway" and "orders".
	Consumer string `json:"consumer"`
	Provider string `json:"provider"`
	// Service is the full name of the gRPC service, e.g.
	// "orders.v1.OrdersService".
	Service string `json:"service"`
	// Interactions are the calls the consumer makes, in the order the
	// provider verification replays them.
	Interactions []Interaction `json:"interactions"`
}

// Interaction is one call the consumer makes and what it needs of the
// answer.
type Interaction struct {
	// Description says what the consumer is doing, e.g. "placing an order
	// of an SKU in stock".
	Description string `json:"description"`
	// State is what the provider must hold before the call; the provider's
	// verification implements each state by name.
	State *State `json:"provider_state,omitempty"`
	// Method is the RPC's name within the service, e.g. "PlaceOrder".
	Method string `json:"method"`
	// Request is the request message the consumer sent, in protojson.
	Request json.RawMessage `json:"request"`
	// RequestFromState names request fields whose value the provider state
	// supplies: request field name → state parameter (for ids the provider
	// generates).
	RequestFromState map[string]string `json:"request_from_state,omitempty"`
	// Response is what the consumer needs of the answer.
	Response Response `json:"response"`
}

// State is a provider state: a name the provider implements and its
// parameters.
type State struct {
	Name   string            `json:"name"`
	Params map[string]string `json:"params,omitempty"`
}

// Response is what the consumer needs of an answer.
type Response struct {
	// Code is the gRPC status code name the consumer expects, e.g. "OK" or
	// "NOT_FOUND".
	Code string `json:"code"`
	// Fields are the fields of the response message the consumer reads
	// (only when Code is OK).
	Fields []Field `json:"fields,omitempty"`
}

// Field is one field of a response that the consumer reads.
type Field struct {
	// Path names the field from the response message, with "[]" after a
	// repeated field whose elements are entered: "order.items[].sku".
	Path string `json:"path"`
	// Number is the field's number in its message.
	Number int32 `json:"number"`
	// Type is the field's type as TypeOf names it, e.g. "int64",
	// "enum orders.v1.OrderStatus", "repeated message orders.v1.LineItem".
	Type string `json:"type"`
	// Match is MatchType or MatchEquals.
	Match string `json:"match"`
	// Value is the required value when Match is MatchEquals: the text of a
	// string, the decimal of a number, the name of an enum value.
	Value string `json:"value,omitempty"`
}

// Read loads a pact from a JSON file.
func Read(path string) (*Pact, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading pact: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Pact
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding pact %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("pact %s: %w", path, err)
	}
	return &p, nil
}

// Validate reports the first structural problem of p.
func (p *Pact) Validate() error {
	switch {
	case p.Consumer == "" || p.Provider == "" || p.Service == "":
		return fmt.Errorf("consumer, provider and service are required")
	case len(p.Interactions) == 0:
		return fmt.Errorf("no interactions")
	}
	seen := map[string]bool{}
	for i, in := range p.Interactions {
		switch {
		case in.Description == "":
			return fmt.Errorf("interaction %d: description is required", i)
		case seen[in.Description]:
			return fmt.Errorf("interaction %d: description %q is not unique", i, in.Description)
		case in.Method == "":
			return fmt.Errorf("interaction %q: method is required", in.Description)
		case in.Response.Code == "":
			return fmt.Errorf("interaction %q: response code is required", in.Description)
		case len(in.Request) == 0 || string(in.Request) == "null":
			return fmt.Errorf("interaction %q: request is required", in.Description)
		}
		seen[in.Description] = true
		for _, f := range in.Response.Fields {
			if f.Path == "" || f.Type == "" || f.Number <= 0 {
				return fmt.Errorf("interaction %q: field %q: path, number and type are required", in.Description, f.Path)
			}
			if f.Match != MatchType && f.Match != MatchEquals {
				return fmt.Errorf("interaction %q: field %q: match must be %q or %q, got %q", in.Description, f.Path, MatchType, MatchEquals, f.Match)
			}
		}
	}
	return nil
}

// Marshal renders p as indented JSON with a trailing newline, stable for a
// committed file.
func (p *Pact) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding pact: %w", err)
	}
	return append(b, '\n'), nil
}

// Methods returns the RPC methods the consumer calls, sorted, once each.
func (p *Pact) Methods() []string {
	var out []string
	for _, in := range p.Interactions {
		if !slices.Contains(out, in.Method) {
			out = append(out, in.Method)
		}
	}
	slices.Sort(out)
	return out
}
