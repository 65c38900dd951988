package pact

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TypeOf names the type of a field as a Field records it: the kind
// ("string", "int64", ...), with the full name of an enum or message
// ("enum orders.v1.OrderStatus"), prefixed by "repeated " for lists and
// written "map<K, V>" for maps.
func TypeOf(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return fmt.Sprintf("map<%s, %s>", singularType(fd.MapKey()), singularType(fd.MapValue()))
	}
	if fd.IsList() {
		return "repeated " + singularType(fd)
	}
	return singularType(fd)
}

func singularType(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return "enum " + string(fd.Enum().FullName())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "message " + string(fd.Message().FullName())
	default:
		return fd.Kind().String()
	}
}

// Check verifies that msg, a provider's answer, has every field the
// consumer reads, with the recorded numbers, types and values. It returns
// one error per broken expectation.
func Check(msg proto.Message, fields []Field) []error {
	root := msg.ProtoReflect()
	var errs []error
	for _, f := range fields {
		if err := checkField(root, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
		}
	}
	return errs
}

func checkField(root protoreflect.Message, f Field) error {
	segs := strings.Split(f.Path, ".")
	parents := []protoreflect.Message{root}
	md := root.Descriptor()
	for _, seg := range segs[:len(segs)-1] {
		name, enter := strings.CutSuffix(seg, "[]")
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.Message() == nil || fd.IsMap() || fd.IsList() != enter {
			return fmt.Errorf("the provider's %s has no %s field %q", md.FullName(), segKind(enter), name)
		}
		var next []protoreflect.Message
		for _, p := range parents {
			if enter {
				l := p.Get(fd).List()
				for i := range l.Len() {
					next = append(next, l.Get(i).Message())
				}
			} else if p.Has(fd) {
				next = append(next, p.Get(fd).Message())
			}
		}
		parents, md = next, fd.Message()
	}
	last, enter := strings.CutSuffix(segs[len(segs)-1], "[]")
	if enter {
		return fmt.Errorf("a path must not end in []")
	}
	fd := md.Fields().ByName(protoreflect.Name(last))
	switch {
	case fd == nil:
		return fmt.Errorf("the provider's %s has no field %q; the consumer reads it", md.FullName(), last)
	case fd.Number() != protoreflect.FieldNumber(f.Number):
		return fmt.Errorf("field number is %d, the consumer expects %d", fd.Number(), f.Number)
	case TypeOf(fd) != f.Type:
		return fmt.Errorf("type is %s, the consumer expects %s", TypeOf(fd), f.Type)
	}
	var errs []error
	for _, p := range parents {
		if err := checkValue(p, fd, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func segKind(repeated bool) string {
	if repeated {
		return "repeated message"
	}
	return "singular message"
}

func checkValue(m protoreflect.Message, fd protoreflect.FieldDescriptor, f Field) error {
	if !m.Has(fd) {
		return fmt.Errorf("is not set (zero or empty); the consumer reads it")
	}
	v := m.Get(fd)
	if fd.Kind() == protoreflect.EnumKind && !fd.IsList() && !fd.IsMap() {
		if fd.Enum().Values().ByNumber(v.Enum()) == nil {
			return fmt.Errorf("holds %d, not a value of %s", v.Enum(), fd.Enum().FullName())
		}
	}
	if f.Match != MatchEquals {
		return nil
	}
	got, ok := FormatValue(fd, v)
	if !ok {
		return fmt.Errorf("a %s field cannot be matched by value", TypeOf(fd))
	}
	if got != f.Value {
		return fmt.Errorf("is %q, the consumer expects %q", got, f.Value)
	}
	return nil
}

// FormatValue renders the value of a singular scalar or enum field as
// Field.Value records it; ok is false for other fields.
func FormatValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, bool) {
	if fd.IsList() || fd.IsMap() {
		return "", false
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name()), true
		}
		return strconv.Itoa(int(v.Enum())), true
	case protoreflect.StringKind:
		return v.String(), true
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool()), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10), true
	}
	return "", false
}
