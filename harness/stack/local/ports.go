package local

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Port is one TCP port the lab listens on, named after its component so
// that a conflict says which component wanted it.
type Port struct {
	Component string // "jaeger", "store", "toxiproxy", …
	Name      string // "otlp-grpc", "metrics", "proxy client->api", …
	Number    int
}

// Ports are the lab's ports by component and name.
type Ports map[string]map[string]int

// Addr is 127.0.0.1:<port of component/name>.
func (p Ports) Addr(component, name string) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p[component][name]))
}

// List returns every port with its owner.
func (p Ports) List() []Port {
	var out []Port
	for c, names := range p {
		for n, num := range names {
			out = append(out, Port{Component: c, Name: n, Number: num})
		}
	}
	return out
}

// CheckFree fails with every port that is already in use, naming its
// component, instead of letting a component hang or die on it later. When
// most of them are in use, another lab is running on them (one started by
// `chaoslab up` holds all but the harness's): it says that, and what to do,
// instead of listing them all.
func (p Ports) CheckFree() error {
	var errs []error
	list := p.List()
	var busy []Port
	seen := map[int]Port{}
	for _, port := range list {
		if prev, dup := seen[port.Number]; dup {
			errs = append(errs, fmt.Errorf("port %d is planned twice: %s %s and %s %s", port.Number, prev.Component, prev.Name, port.Component, port.Name))
			continue
		}
		seen[port.Number] = port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port.Number)))
		if err != nil {
			busy = append(busy, port)
			errs = append(errs, fmt.Errorf("port %d (%s %s) is already in use", port.Number, port.Component, port.Name))
			continue
		}
		l.Close()
	}
	if len(busy) > 1 && 2*len(busy) > len(list) {
		return fmt.Errorf("%d of the lab's %d ports are in use (%d, %s %s, among them): another lab probably runs on them. "+
			"See it with `chaoslab status`; stop it with `chaoslab down` (make down-local), run the scenarios on it "+
			"with `chaoslab run`, or shift every port of this lab with -port-offset N",
			len(busy), len(list), busy[0].Number, busy[0].Component, busy[0].Name)
	}
	if len(errs) > 0 {
		return errors.Join(append(errs, errors.New("free these ports or shift every lab port with -port-offset N"))...)
	}
	return nil
}
