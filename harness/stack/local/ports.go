package local

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
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

// PortRange is an inclusive range of port numbers.
type PortRange struct{ Low, High int }

// Contains reports whether port lies in r.
func (r PortRange) Contains(port int) bool { return r.Low > 0 && port >= r.Low && port <= r.High }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Low, r.High) }

// linuxEphemeral is Linux's default ip_local_port_range.
var linuxEphemeral = PortRange{Low: 32768, High: 60999}

// EphemeralPorts is the range the kernel takes outgoing connections' local
// ports from (net.ipv4.ip_local_port_range; Linux's default where the file
// cannot be read). A lab port in it can be held by any client connection of
// the machine, the lab's own included, when the lab starts.
func EphemeralPorts() PortRange {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return linuxEphemeral
	}
	return parsePortRange(string(b))
}

func parsePortRange(s string) PortRange {
	f := strings.Fields(s)
	if len(f) != 2 {
		return linuxEphemeral
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > hi {
		return linuxEphemeral
	}
	return PortRange{Low: lo, High: hi}
}

// InRange lists the ports that lie in r, by number.
func (p Ports) InRange(r PortRange) []Port {
	var out []Port
	for _, port := range p.List() {
		if r.Contains(port.Number) {
			out = append(out, port)
		}
	}
	slices.SortFunc(out, func(a, b Port) int { return a.Number - b.Number })
	return out
}

// CheckFree fails with every port that is already in use, naming its
// component, instead of letting a component hang or die on it later. When
// most of them are in use, another lab is running on them (one started by
// `chaoslab up` holds all but the harness's): it says that, and what to do,
// instead of listing them all. A busy port in the ephemeral range is most
// likely a client connection's local port: the error says so.
func (p Ports) CheckFree(ephemeral PortRange) error {
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
			err := fmt.Errorf("port %d (%s %s) is already in use", port.Number, port.Component, port.Name)
			if ephemeral.Contains(port.Number) {
				err = fmt.Errorf("%w: it lies in the kernel's ephemeral range %s (net.ipv4.ip_local_port_range), "+
					"where any outgoing connection may hold it for a while; give the lab ports below %d", err, ephemeral, ephemeral.Low)
			}
			errs = append(errs, err)
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

// portList is "ports store public 50051, store metrics 9082 and 1 more".
func portList(ports []Port) string {
	const shown = 3
	var names []string
	for i, p := range ports {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(ports)-shown))
			break
		}
		names = append(names, fmt.Sprintf("%s %s %d", p.Component, p.Name, p.Number))
	}
	if len(ports) == 1 {
		return "port " + names[0]
	}
	return "ports " + strings.Join(names, ", ")
}
