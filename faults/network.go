package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// KindNetwork is the kind of a NetworkFault.
const KindNetwork = "network"

// The toxics of a network fault: Toxiproxy's toxic types, plus Down, which
// disables the edge's proxy (connections are refused and existing ones cut).
const (
	ToxicLatency   = "latency"
	ToxicBandwidth = "bandwidth"
	ToxicSlowClose = "slow_close"
	ToxicTimeout   = "timeout"
	ToxicResetPeer = "reset_peer"
	ToxicSlicer    = "slicer"
	ToxicLimitData = "limit_data"
	ToxicDown      = "down"
)

// The streams a toxic acts on, in Toxiproxy's terms: downstream is the
// data from the callee back to the caller (responses), upstream the data
// from the caller to the callee (requests).
const (
	Downstream = "downstream"
	Upstream   = "upstream"
)

// Toxics returns the toxic names a NetworkFault accepts.
func Toxics() []string {
	return []string{ToxicLatency, ToxicBandwidth, ToxicSlowClose, ToxicTimeout,
		ToxicResetPeer, ToxicSlicer, ToxicLimitData, ToxicDown}
}

// Streams returns the stream names a NetworkFault accepts.
func Streams() []string { return []string{Downstream, Upstream} }

// NetworkFault is a Toxiproxy toxic on one edge of the lab, or the edge's
// proxy disabled (ToxicDown).
type NetworkFault struct {
	// Edge is the edge the fault is on, one of the lab's (Topology.Edges):
	// "api->store".
	Edge string `json:"edge"`
	// Toxic is one of Toxics.
	Toxic string `json:"toxic"`
	// Stream is Downstream or Upstream; scenario files default to
	// Downstream. It does not apply to ToxicDown.
	Stream string `json:"stream"`
	// Toxicity is the fraction of connections the toxic applies to, in
	// (0, 1]; scenario files default to 1. Down takes 1 only.
	Toxicity float64 `json:"toxicity"`
	// Attributes are the toxic's attributes, with Toxiproxy's names and
	// units (see Attributes).
	Attributes map[string]int64 `json:"attributes,omitempty"`
	// Replica, when set, is the one replica (0-based) of the edge's
	// callee whose proxy the fault is on; unset, the fault is on the
	// proxies of all its replicas (Env.EdgeProxies).
	Replica *int `json:"replica,omitempty"`
}

// Attribute describes one attribute of a toxic.
type Attribute struct {
	// Name is Toxiproxy's name of the attribute.
	Name string
	// Unit is what the value counts: "ms", "µs", "KB/s", "bytes".
	Unit string
	// Required attributes must be given; others default to 0.
	Required bool
	// Min and Max bound the value.
	Min, Max int64
}

// hour in milliseconds: the bound of time attributes, to catch unit typos.
const hourMS = 3_600_000

// Attributes returns the attributes toxic accepts (none for ToxicDown, nil
// for an unknown toxic).
func Attributes(toxic string) []Attribute {
	switch toxic {
	case ToxicLatency:
		return []Attribute{
			{Name: "latency", Unit: "ms", Required: true, Min: 1, Max: hourMS},
			{Name: "jitter", Unit: "ms", Min: 0, Max: hourMS},
		}
	case ToxicBandwidth:
		return []Attribute{{Name: "rate", Unit: "KB/s", Required: true, Min: 1, Max: 10_000_000}}
	case ToxicSlowClose:
		return []Attribute{{Name: "delay", Unit: "ms", Required: true, Min: 1, Max: hourMS}}
	case ToxicTimeout:
		// 0: the data is held until the toxic is removed (a blackhole).
		return []Attribute{{Name: "timeout", Unit: "ms", Required: true, Min: 0, Max: hourMS}}
	case ToxicResetPeer:
		return []Attribute{{Name: "timeout", Unit: "ms", Min: 0, Max: hourMS}}
	case ToxicSlicer:
		return []Attribute{
			{Name: "average_size", Unit: "bytes", Required: true, Min: 1, Max: 1 << 20},
			{Name: "size_variation", Unit: "bytes", Min: 0, Max: 1 << 20},
			{Name: "delay", Unit: "µs", Min: 0, Max: 60_000_000},
		}
	case ToxicLimitData:
		return []Attribute{{Name: "bytes", Unit: "bytes", Required: true, Min: 1, Max: 1 << 40}}
	case ToxicDown:
		return []Attribute{}
	}
	return nil
}

// AttributeNames returns the names of toxic's attributes.
func AttributeNames(toxic string) []string {
	attrs := Attributes(toxic)
	names := make([]string, len(attrs))
	for i, a := range attrs {
		names[i] = a.Name
	}
	return names
}

// Proxy returns the name of the Toxiproxy proxy of the fault's edge: the
// one replica's (ReplicaProxyName) when the fault names one, the first
// replica's otherwise.
func (n NetworkFault) Proxy() string {
	if n.Replica != nil {
		return ReplicaProxyName(n.Edge, *n.Replica)
	}
	return ProxyName(n.Edge)
}

// proxies returns the proxies the fault acts on in in's lab: its replica's,
// or every replica's of the edge.
func (n NetworkFault) proxies(in *Injector) []string {
	if n.Replica == nil && in.env.EdgeProxies != nil {
		if ps := in.env.EdgeProxies(n.Edge); len(ps) > 0 {
			return ps
		}
	}
	return []string{n.Proxy()}
}

// Kind returns KindNetwork.
func (NetworkFault) Kind() string { return KindNetwork }

// Target returns the edge (String and Occupies name the replica).
func (n NetworkFault) Target() string { return n.Edge }

// where is the edge, with the replica when the fault names one.
func (n NetworkFault) where() string {
	if n.Replica != nil {
		return fmt.Sprintf("%s[%d]", n.Edge, *n.Replica)
	}
	return n.Edge
}

// Occupies returns the edge's proxy when the fault disables it, and the
// toxic's type on the edge's stream otherwise.
func (n NetworkFault) Occupies() (slot, what string) {
	if n.Toxic == ToxicDown {
		slot = "the proxy of " + n.where() + " down"
		return slot, slot
	}
	slot = fmt.Sprintf("a %s toxic on %s %s", n.Toxic, n.where(), n.Stream)
	return slot, slot
}

func (n NetworkFault) summary() string { return fmt.Sprintf("network %s on %s", n.Toxic, n.where()) }

// String describes the fault in one stable line; attributes are sorted by
// name.
func (n NetworkFault) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "network %s %s", n.Edge, n.Toxic)
	if n.Replica != nil {
		fmt.Fprintf(&b, " replica=%d", *n.Replica)
	}
	if n.Toxic == ToxicDown {
		return b.String()
	}
	fmt.Fprintf(&b, " stream=%s toxicity=%s", n.Stream, strconv.FormatFloat(n.Toxicity, 'g', -1, 64))
	names := make([]string, 0, len(n.Attributes))
	for k := range n.Attributes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%d", k, n.Attributes[k])
	}
	return b.String()
}

// problems returns everything wrong with n.
func (n NetworkFault) problems(t *Topology) []FieldError {
	p := problems{prefix: KindNetwork}
	var edges []string
	if t != nil {
		edges = t.Edges
	}
	switch {
	case n.Edge == "":
		p.add("edge", edges, "edge is missing: name the edge the fault is on")
	case t != nil && !slices.Contains(edges, n.Edge):
		p.add("edge", edges, "unknown edge %q", n.Edge)
	default:
		checkReplica(&p, t, callee(n.Edge), n.Replica)
	}
	switch {
	case n.Toxic == "":
		p.add("toxic", Toxics(), "toxic is missing: name the kind of network fault")
	case Attributes(n.Toxic) == nil:
		p.add("toxic", Toxics(), "unknown toxic %q", n.Toxic)
	}
	switch {
	case n.Stream == "":
		p.add("stream", Streams(), "stream is missing: say which direction the toxic acts on")
	case !slices.Contains(Streams(), n.Stream):
		p.add("stream", Streams(), "unknown stream %q", n.Stream)
	case n.Toxic == ToxicDown && n.Stream != Downstream:
		p.add("stream", nil, "down disables the whole proxy, both streams: remove stream")
	}
	switch {
	case !(n.Toxicity > 0 && n.Toxicity <= 1):
		p.add("toxicity", nil, "toxicity %s: must be in (0, 1], the fraction of connections hit (1 for all)",
			strconv.FormatFloat(n.Toxicity, 'g', -1, 64))
	case n.Toxic == ToxicDown && n.Toxicity != 1:
		p.add("toxicity", nil, "down disables the whole proxy, every connection: remove toxicity")
	}
	attrs := Attributes(n.Toxic)
	if attrs == nil {
		return p.list // unknown toxic: its attributes cannot be checked
	}
	names := AttributeNames(n.Toxic)
	for _, a := range attrs {
		v, ok := n.Attributes[a.Name]
		switch {
		case !ok && a.Required:
			p.add("attributes", nil, "%s needs attribute %s (%s)", n.Toxic, a.Name, a.Unit)
		case ok && (v < a.Min || v > a.Max):
			p.add("attributes."+a.Name, nil, "%s %d: must be from %d to %d (%s)", a.Name, v, a.Min, a.Max, a.Unit)
		}
	}
	unknown := make([]string, 0)
	for k := range n.Attributes {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		if len(names) == 0 {
			p.add("attributes."+k, nil, "down takes no attributes: remove %s", k)
			continue
		}
		p.add("attributes."+k, names, "%s has no attribute %q", n.Toxic, k)
	}
	if n.Toxic == ToxicSlicer {
		avg, okAvg := n.Attributes["average_size"]
		vari, okVar := n.Attributes["size_variation"]
		if okAvg && okVar && avg > 0 && vari >= avg {
			p.add("attributes.size_variation", nil,
				"size_variation %d: must be below average_size (%d), or chunks could be empty", vari, avg)
		}
	}
	return p.list
}

// capable checks that the lab has a Toxiproxy.
func (NetworkFault) capable(in *Injector) error {
	_, err := in.toxiproxy()
	return err
}

// handle is the edge's proxy and, unless the fault disables it, the
// toxic's name.
func (n NetworkFault) handle(id string) map[string]string {
	h := map[string]string{HandleProxy: n.Proxy()}
	if n.Toxic != ToxicDown {
		h[HandleToxic] = NamePrefix + id
	}
	return h
}

// apply adds the toxic to the edge's proxy, or disables the proxy (down).
func (n NetworkFault) apply(ctx context.Context, in *Injector, a Applied) error {
	tp, err := in.toxiproxy()
	if err != nil {
		return err
	}
	for _, proxy := range n.proxies(in) {
		if n.Toxic == ToxicDown {
			err = tp.SetEnabled(ctx, proxy, false)
		} else {
			err = tp.AddToxic(ctx, proxy, Toxic{
				Name: a.Handle[HandleToxic], Type: n.Toxic, Stream: n.Stream,
				Toxicity: n.Toxicity, Attributes: maps.Clone(n.Attributes),
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// undo removes the toxic, or enables the proxy again (down).
func (n NetworkFault) undo(ctx context.Context, in *Injector, a Applied) error {
	tp, err := in.toxiproxy()
	if err != nil {
		return err
	}
	name := a.Handle[HandleToxic]
	if name == "" {
		name = NamePrefix + a.ID
	}
	var errs []error
	for _, proxy := range n.proxies(in) {
		if n.Toxic == ToxicDown {
			errs = append(errs, tp.SetEnabled(ctx, proxy, true))
		} else {
			errs = append(errs, removeToxic(ctx, tp, proxy, name))
		}
	}
	return errors.Join(errs...)
}

// sweep removes every toxic named chaoslab-* from every proxy and enables
// every proxy.
func (NetworkFault) sweep(ctx context.Context, in *Injector) error {
	tp := in.env.Toxiproxy
	if tp == nil {
		return nil
	}
	var errs []error
	proxies, err := tp.Proxies(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(proxies)) {
		p := proxies[name]
		for _, t := range p.Toxics {
			if strings.HasPrefix(t.Name, NamePrefix) {
				errs = append(errs, removeToxic(ctx, tp, name, t.Name))
			}
		}
		if !p.Enabled {
			errs = append(errs, tp.SetEnabled(ctx, name, true))
		}
	}
	return errors.Join(errs...)
}

// removeToxic removes the toxic name from proxy; a toxic (or proxy) that is
// not there is not an error.
func removeToxic(ctx context.Context, tp Proxies, proxy, name string) error {
	rerr := tp.RemoveToxic(ctx, proxy, name)
	if rerr == nil {
		return nil
	}
	// The Toxiproxy client's errors carry no status: check that it is gone.
	proxies, lerr := tp.Proxies(ctx)
	if lerr != nil {
		return errors.Join(rerr, lerr)
	}
	p, ok := proxies[proxy]
	if ok && slices.ContainsFunc(p.Toxics, func(t Toxic) bool { return t.Name == name }) {
		return rerr
	}
	return nil
}

func (in *Injector) toxiproxy() (Proxies, error) {
	if in.env.Toxiproxy == nil {
		return nil, errors.New("no Toxiproxy in this lab: network faults cannot be applied")
	}
	return in.env.Toxiproxy, nil
}

// Proxies is what network faults need of Toxiproxy: a toxic added to and
// removed from a proxy, a proxy disabled and enabled again, and every proxy
// with its toxics (for rollback's sweep). The harness adapts its Toxiproxy
// client to it (stack.FaultProxies). Every call ends when ctx does.
type Proxies interface {
	// AddToxic adds t to proxy.
	AddToxic(ctx context.Context, proxy string, t Toxic) error
	// RemoveToxic removes the toxic name from proxy.
	RemoveToxic(ctx context.Context, proxy, name string) error
	// SetEnabled enables or disables proxy: a disabled proxy refuses
	// connections and cuts the ones it has.
	SetEnabled(ctx context.Context, proxy string, enabled bool) error
	// Proxies returns every proxy, by name.
	Proxies(ctx context.Context) (map[string]Proxy, error)
}

// Proxy is the state of one Toxiproxy proxy.
type Proxy struct {
	Enabled bool
	Toxics  []Toxic
}

// Toxic is one toxic on a proxy, in Toxiproxy's terms.
type Toxic struct {
	// Name is unique on its proxy; chaoslab's start with NamePrefix.
	Name string
	// Type is the toxic's type: "latency", "timeout", … (see Toxics).
	Type string
	// Stream is Downstream or Upstream.
	Stream string
	// Toxicity is the fraction of connections hit, in (0, 1].
	Toxicity float64
	// Attributes are the toxic's attributes (see Attributes).
	Attributes map[string]int64
}
