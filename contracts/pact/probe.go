package pact

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Outcome is what a consumer did with one answer of the provider.
type Outcome struct {
	// Decision is the consumer's choice among its paths, e.g. the HTTP
	// status it answered with.
	Decision string
	// Output is everything the consumer produced, e.g. the HTTP headers
	// and body it answered with.
	Output string
}

// Observer runs the consumer with resp as the provider's answer and reports
// what it did. It must be deterministic: the same resp, the same Outcome.
type Observer func(resp proto.Message) (Outcome, error)

// Fields finds the fields of resp that the consumer reads by probing it:
// each field set in resp is cleared in a copy and the consumer observed
// with it. A field whose clearing changes the outcome is read; it is
// expected by value (MatchEquals) when changing its value changes the
// consumer's decision, else by type. Read message fields are entered,
// except the well-known types (google.protobuf.*), which are read whole.
func Fields(resp proto.Message, observe Observer) ([]Field, error) {
	base, err := observe(resp)
	if err != nil {
		return nil, fmt.Errorf("observing the consumer with the recorded answer: %w", err)
	}
	p := prober{resp: resp, observe: observe, base: base}
	if err := p.walk(nil, resp.ProtoReflect().Descriptor()); err != nil {
		return nil, err
	}
	return p.fields, nil
}

// step is one segment of a path: a field, entered element by element when
// it is a list.
type step struct {
	fd    protoreflect.FieldDescriptor
	enter bool
}

type prober struct {
	resp    proto.Message
	observe Observer
	base    Outcome
	fields  []Field
}

func (p *prober) walk(prefix []step, md protoreflect.MessageDescriptor) error {
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		parents := reach(p.resp.ProtoReflect(), prefix)
		if !anySet(parents, fd) {
			continue
		}
		cleared, err := p.observeEdited(prefix, func(m protoreflect.Message) { m.Clear(fd) })
		if err != nil {
			return err
		}
		if cleared == p.base {
			continue // the consumer does not read it
		}
		f := Field{Path: pathOf(prefix, fd), Number: int32(fd.Number()), Type: TypeOf(fd), Match: MatchType}
		enterable := fd.Message() != nil && !fd.IsMap() && !isWellKnown(fd.Message())
		if !enterable {
			if value, ok := sameValue(parents, fd); ok {
				mutated, err := p.observeEdited(prefix, func(m protoreflect.Message) { mutate(m, fd) })
				if err != nil {
					return err
				}
				if mutated.Decision != p.base.Decision {
					f.Match, f.Value = MatchEquals, value
				}
			}
		}
		p.fields = append(p.fields, f)
		if enterable {
			if err := p.walk(append(prefix[:len(prefix):len(prefix)], step{fd: fd, enter: fd.IsList()}), fd.Message()); err != nil {
				return err
			}
		}
	}
	return nil
}

// observeEdited observes the consumer with a copy of the answer in which
// edit was applied to every message at prefix.
func (p *prober) observeEdited(prefix []step, edit func(protoreflect.Message)) (Outcome, error) {
	c := proto.Clone(p.resp)
	for _, m := range reach(c.ProtoReflect(), prefix) {
		edit(m)
	}
	o, err := p.observe(c)
	if err != nil {
		return Outcome{}, fmt.Errorf("observing the consumer with an edited answer: %w", err)
	}
	return o, nil
}

// reach returns the messages at the end of path from root.
func reach(root protoreflect.Message, path []step) []protoreflect.Message {
	ms := []protoreflect.Message{root}
	for _, s := range path {
		var next []protoreflect.Message
		for _, m := range ms {
			if !m.Has(s.fd) {
				continue
			}
			if s.enter {
				l := m.Mutable(s.fd).List()
				for i := range l.Len() {
					next = append(next, l.Get(i).Message())
				}
			} else {
				next = append(next, m.Mutable(s.fd).Message())
			}
		}
		ms = next
	}
	return ms
}

func anySet(ms []protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	for _, m := range ms {
		if m.Has(fd) {
			return true
		}
	}
	return false
}

// sameValue returns the formatted value of fd when every message holds the
// same one.
func sameValue(ms []protoreflect.Message, fd protoreflect.FieldDescriptor) (string, bool) {
	var value string
	for i, m := range ms {
		v, ok := FormatValue(fd, m.Get(fd))
		if !ok || (i > 0 && v != value) {
			return "", false
		}
		value = v
	}
	return value, len(ms) > 0
}

// mutate changes the value of the singular scalar or enum field fd of m to
// another value of its type.
func mutate(m protoreflect.Message, fd protoreflect.FieldDescriptor) {
	v := m.Get(fd)
	var nv protoreflect.Value
	switch fd.Kind() {
	case protoreflect.EnumKind:
		nv = protoreflect.ValueOfEnum(otherEnumValue(fd.Enum(), v.Enum()))
	case protoreflect.StringKind:
		nv = protoreflect.ValueOfString(v.String() + "~")
	case protoreflect.BoolKind:
		nv = protoreflect.ValueOfBool(!v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		nv = protoreflect.ValueOfInt32(int32(v.Int()) + 1)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		nv = protoreflect.ValueOfInt64(v.Int() + 1)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		nv = protoreflect.ValueOfUint32(uint32(v.Uint()) + 1)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		nv = protoreflect.ValueOfUint64(v.Uint() + 1)
	default:
		return
	}
	m.Set(fd, nv)
}

// otherEnumValue is a defined non-zero value of ed other than cur, or 0.
func otherEnumValue(ed protoreflect.EnumDescriptor, cur protoreflect.EnumNumber) protoreflect.EnumNumber {
	vals := ed.Values()
	for i := range vals.Len() {
		if n := vals.Get(i).Number(); n != cur && n != 0 {
			return n
		}
	}
	return 0
}

func isWellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Package() == "google.protobuf"
}

func pathOf(prefix []step, fd protoreflect.FieldDescriptor) string {
	var b strings.Builder
	for _, s := range prefix {
		b.WriteString(string(s.fd.Name()))
		if s.enter {
			b.WriteString("[]")
		}
		b.WriteByte('.')
	}
	b.WriteString(string(fd.Name()))
	return b.String()
}
