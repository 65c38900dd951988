package scenario

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// stacksRead is what the decoder learnt from a scenario's `stacks:`, for
// the faults that depend on the stack.
type stacksRead struct {
	// given: the file has `stacks:`, on line.
	given bool
	line  int
	// bad: it has problems of its own (already reported).
	bad bool
	// list is what it says, in the order of Stacks.
	list []string
}

// stacks reads the stacks a scenario runs on; key is the `stacks` key, for
// positions.
func (d *decoder) stacks(n, key *yaml.Node) []string {
	d.stacksRead = stacksRead{given: true, line: key.Line}
	items, ok := d.list(n, "stacks")
	if !ok {
		d.stacksRead.bad = true
		return Stacks()
	}
	if len(items) == 0 {
		at := resolve(n)
		if isNull(at) {
			at = key
		}
		d.errorf(at, "stacks", Stacks(), "is empty: list the stacks the scenario runs on, like [compose], or leave stacks out to run on every stack")
		d.stacksRead.bad = true
		return Stacks()
	}
	seen := map[string]bool{}
	runnable, why := d.labStacks()
	for i, it := range items {
		v, ok := d.enum(it, index("stacks", i), Stacks())
		switch {
		case !ok:
			d.stacksRead.bad = true
		case why[v] != "":
			d.errorf(resolve(it), index("stacks", i), runnable, "lab %s cannot run on the %s stack: %s", d.lab.Name, v, why[v])
			d.stacksRead.bad = true
		case seen[v]:
			d.errorf(resolve(it), index("stacks", i), nil, "%s is listed twice", v)
			d.stacksRead.bad = true
		default:
			seen[v] = true
		}
	}
	var out []string
	for _, s := range Stacks() {
		if seen[s] {
			out = append(out, s)
		}
	}
	d.stacksRead.list = out
	return out
}

// labStacks returns the stacks the lab can run on, in the order of Stacks
// — local when every service has a local command, compose when every
// service has a compose image, kubernetes and remote always — and why it
// cannot run on each other one: the default of a scenario without
// `stacks:`.
func (d *decoder) labStacks() (runnable []string, why map[string]string) {
	why = map[string]string{}
	for _, s := range d.lab.Services {
		if s.Local == nil && why[StackLocal] == "" {
			why[StackLocal] = fmt.Sprintf("service %s has no local command (services.%s.local, %s:%d)", s.Name, s.Name, d.lab.File, s.Pos.Line)
		}
		if s.Compose == nil && why[StackCompose] == "" {
			why[StackCompose] = fmt.Sprintf("service %s has no compose image (services.%s.compose, %s:%d)", s.Name, s.Name, d.lab.File, s.Pos.Line)
		}
	}
	for _, st := range Stacks() {
		if why[st] == "" {
			runnable = append(runnable, st)
		}
	}
	return runnable, why
}

// composeOnly returns what is wrong with a container fault given the
// scenario's stacks: "" when the scenario runs on the compose stack only
// (or its stacks have problems of their own, reported already).
func (r stacksRead) composeOnly() string {
	switch {
	case r.bad:
		return ""
	case !r.given && !slices.Equal(r.list, []string{StackCompose}):
		return `container faults need the compose stack, and without "stacks:" the scenario runs on every stack: add "stacks: [compose]" at the top of the file`
	case !slices.Equal(r.list, []string{StackCompose}):
		return fmt.Sprintf(`container faults need the compose stack, and the scenario runs on %s too (stacks, line %d): set "stacks: [compose]"`,
			otherStacks(r.list), r.line)
	}
	return ""
}

// otherStacks returns the stacks of list other than compose, joined.
func otherStacks(list []string) string {
	var out string
	for _, s := range list {
		if s == StackCompose {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += s
	}
	return out
}
