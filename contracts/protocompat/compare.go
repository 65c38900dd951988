// Package protocompat detects breaking changes between two versions of a
// set of protobuf definitions, given as descriptor sets: what a client or
// server built from the old version can no longer rely on in the new one.
//
// Breaking, on the wire or in JSON: a message, enum, service or method that
// is gone; a field that is gone, renumbered, renamed, or has a new type,
// cardinality or oneof; an enum value that is gone or renamed; a method
// whose request, response or streaming changed. Additions are not breaking.
package protocompat

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/descriptorpb"
)

// Change is one difference between two versions of a descriptor set.
type Change struct {
	// Breaking is true when the change breaks clients or servers built from
	// the old version.
	Breaking bool
	// Element is the full name of what changed, such as
	// "orders.v1.Order.status" or "orders.v1.OrdersService.PlaceOrder".
	Element string
	// Detail says what changed, e.g. "field removed (number 6)".
	Detail string
}

// String renders the change as "BREAKING orders.v1.Order.status: ...".
func (c Change) String() string {
	kind := "compatible"
	if c.Breaking {
		kind = "BREAKING"
	}
	return fmt.Sprintf("%s %s: %s", kind, c.Element, c.Detail)
}

// Breaking returns the breaking changes among changes.
func Breaking(changes []Change) []Change {
	var out []Change
	for _, c := range changes {
		if c.Breaking {
			out = append(out, c)
		}
	}
	return out
}

// compareByName matches the old and current elements of one kind by full
// name: a removed one is breaking, an added one compatible, and same
// compares the two versions of one that is in both.
func compareByName[T any](d *diff, kind string, old, cur map[string]T, same func(name string, o, n T)) {
	for _, name := range sortedKeys(old) {
		n, ok := cur[name]
		if !ok {
			d.breaking(name, "%s removed", kind)
			continue
		}
		same(name, old[name], n)
	}
	for _, name := range sortedKeys(cur) {
		if _, ok := old[name]; !ok {
			d.compatible(name, "%s added", kind)
		}
	}
}

// Compare returns every difference between old and cur, sorted by element.
// Types are matched by full name across all files of each set, so moving a
// message to another file of the same package is not a change.
func Compare(old, cur *descriptorpb.FileDescriptorSet) []Change {
	o, n := index(old), index(cur)
	var d diff
	compareByName(&d, "message", o.messages, n.messages, d.message)
	compareByName(&d, "enum", o.enums, n.enums, d.enum)
	compareByName(&d, "service", o.services, n.services, d.service)
	slices.SortStableFunc(d.changes, func(a, b Change) int { return cmp.Compare(a.Element, b.Element) })
	return d.changes
}

// diff collects changes.
type diff struct{ changes []Change }

func (d *diff) breaking(element, format string, args ...any) {
	d.changes = append(d.changes, Change{Breaking: true, Element: element, Detail: fmt.Sprintf(format, args...)})
}

func (d *diff) compatible(element, format string, args ...any) {
	d.changes = append(d.changes, Change{Element: element, Detail: fmt.Sprintf(format, args...)})
}

// message compares the fields of two versions of the message name. Fields
// are matched by number, the identity of a field on the wire.
func (d *diff) message(name string, o, n *descriptorpb.DescriptorProto) {
	oldByNum, newByNum := fieldsByNumber(o), fieldsByNumber(n)
	newByName := map[string]*descriptorpb.FieldDescriptorProto{}
	for _, f := range n.GetField() {
		newByName[f.GetName()] = f
	}
	for _, num := range sortedKeys(oldByNum) {
		of := oldByNum[num]
		el := name + "." + of.GetName()
		nf, ok := newByNum[num]
		if !ok {
			if moved, ok := newByName[of.GetName()]; ok {
				d.breaking(el, "field renumbered from %d to %d", num, moved.GetNumber())
			} else {
				d.breaking(el, "field removed (number %d); mark the number and name reserved and keep it in the baseline only when no client uses it", num)
			}
			continue
		}
		if nf.GetName() != of.GetName() {
			d.breaking(el, "field number %d renamed to %q (breaks JSON and text clients)", num, nf.GetName())
		}
		if ot, nt := fieldType(of), fieldType(nf); ot != nt {
			d.breaking(el, "field type changed from %s to %s", ot, nt)
		}
		if oc, nc := cardinality(of), cardinality(nf); oc != nc {
			d.breaking(el, "field cardinality changed from %s to %s", oc, nc)
		}
		if oo, no := oneofName(o, of), oneofName(n, nf); oo != no {
			d.breaking(el, "field moved from oneof %q to oneof %q", oo, no)
		}
	}
	for _, num := range sortedKeys(newByNum) {
		if _, ok := oldByNum[num]; ok {
			continue
		}
		nf := newByNum[num]
		if _, renumbered := fieldByName(o, nf.GetName()); renumbered {
			continue // reported above as renumbered
		}
		d.compatible(name+"."+nf.GetName(), "field added (number %d)", num)
	}
}

// enum compares the values of two versions of the enum name, matched by
// number.
func (d *diff) enum(name string, o, n *descriptorpb.EnumDescriptorProto) {
	oldByNum, newByNum := valuesByNumber(o), valuesByNumber(n)
	for _, num := range sortedKeys(oldByNum) {
		ov := oldByNum[num]
		nv, ok := newByNum[num]
		switch {
		case !ok:
			d.breaking(name+"."+ov.GetName(), "enum value removed (number %d)", num)
		case nv.GetName() != ov.GetName():
			d.breaking(name+"."+ov.GetName(), "enum value number %d renamed to %q (breaks JSON and text clients)", num, nv.GetName())
		}
	}
	for _, num := range sortedKeys(newByNum) {
		if _, ok := oldByNum[num]; !ok {
			d.compatible(name+"."+newByNum[num].GetName(), "enum value added (number %d)", num)
		}
	}
}

// service compares the methods of two versions of the service name.
func (d *diff) service(name string, o, n *descriptorpb.ServiceDescriptorProto) {
	newMethods := map[string]*descriptorpb.MethodDescriptorProto{}
	for _, m := range n.GetMethod() {
		newMethods[m.GetName()] = m
	}
	oldMethods := map[string]bool{}
	for _, om := range o.GetMethod() {
		oldMethods[om.GetName()] = true
		el := name + "." + om.GetName()
		nm, ok := newMethods[om.GetName()]
		if !ok {
			d.breaking(el, "method removed")
			continue
		}
		if a, b := typeName(om.GetInputType()), typeName(nm.GetInputType()); a != b {
			d.breaking(el, "request type changed from %s to %s", a, b)
		}
		if a, b := typeName(om.GetOutputType()), typeName(nm.GetOutputType()); a != b {
			d.breaking(el, "response type changed from %s to %s", a, b)
		}
		if om.GetClientStreaming() != nm.GetClientStreaming() {
			d.breaking(el, "client streaming changed from %t to %t", om.GetClientStreaming(), nm.GetClientStreaming())
		}
		if om.GetServerStreaming() != nm.GetServerStreaming() {
			d.breaking(el, "server streaming changed from %t to %t", om.GetServerStreaming(), nm.GetServerStreaming())
		}
	}
	for _, nm := range n.GetMethod() {
		if !oldMethods[nm.GetName()] {
			d.compatible(name+"."+nm.GetName(), "method added")
		}
	}
}

// set indexes the types of a descriptor set by full name (without the
// leading dot).
type set struct {
	messages map[string]*descriptorpb.DescriptorProto
	enums    map[string]*descriptorpb.EnumDescriptorProto
	services map[string]*descriptorpb.ServiceDescriptorProto
}

func index(fds *descriptorpb.FileDescriptorSet) set {
	s := set{
		messages: map[string]*descriptorpb.DescriptorProto{},
		enums:    map[string]*descriptorpb.EnumDescriptorProto{},
		services: map[string]*descriptorpb.ServiceDescriptorProto{},
	}
	for _, f := range fds.GetFile() {
		prefix := f.GetPackage()
		for _, m := range f.GetMessageType() {
			s.addMessage(prefix, m)
		}
		for _, e := range f.GetEnumType() {
			s.enums[join(prefix, e.GetName())] = e
		}
		for _, sv := range f.GetService() {
			s.services[join(prefix, sv.GetName())] = sv
		}
	}
	return s
}

func (s set) addMessage(prefix string, m *descriptorpb.DescriptorProto) {
	name := join(prefix, m.GetName())
	s.messages[name] = m
	for _, nested := range m.GetNestedType() {
		s.addMessage(name, nested)
	}
	for _, e := range m.GetEnumType() {
		s.enums[join(name, e.GetName())] = e
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func fieldsByNumber(m *descriptorpb.DescriptorProto) map[int32]*descriptorpb.FieldDescriptorProto {
	out := map[int32]*descriptorpb.FieldDescriptorProto{}
	for _, f := range m.GetField() {
		out[f.GetNumber()] = f
	}
	return out
}

func fieldByName(m *descriptorpb.DescriptorProto, name string) (*descriptorpb.FieldDescriptorProto, bool) {
	for _, f := range m.GetField() {
		if f.GetName() == name {
			return f, true
		}
	}
	return nil, false
}

func valuesByNumber(e *descriptorpb.EnumDescriptorProto) map[int32]*descriptorpb.EnumValueDescriptorProto {
	out := map[int32]*descriptorpb.EnumValueDescriptorProto{}
	for _, v := range e.GetValue() {
		if _, dup := out[v.GetNumber()]; !dup { // allow_alias: the first name is canonical
			out[v.GetNumber()] = v
		}
	}
	return out
}

// fieldType names the type of a field: "string", "enum orders.v1.OrderStatus",
// "message google.protobuf.Timestamp".
func fieldType(f *descriptorpb.FieldDescriptorProto) string {
	t := strings.ToLower(strings.TrimPrefix(f.GetType().String(), "TYPE_"))
	switch f.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_GROUP,
		descriptorpb.FieldDescriptorProto_TYPE_ENUM:
		return t + " " + typeName(f.GetTypeName())
	}
	return t
}

// cardinality names the cardinality of a field: "repeated", "optional"
// (explicit presence in proto3), "required" or "singular".
func cardinality(f *descriptorpb.FieldDescriptorProto) string {
	switch {
	case f.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED:
		return "repeated"
	case f.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REQUIRED:
		return "required"
	case f.GetProto3Optional():
		return "optional"
	default:
		return "singular"
	}
}

// oneofName is the name of the real oneof that holds f, or "" (a proto3
// optional field's synthetic oneof does not count).
func oneofName(m *descriptorpb.DescriptorProto, f *descriptorpb.FieldDescriptorProto) string {
	if f.OneofIndex == nil || f.GetProto3Optional() {
		return ""
	}
	i := int(f.GetOneofIndex())
	if i < 0 || i >= len(m.GetOneofDecl()) {
		return ""
	}
	return m.GetOneofDecl()[i].GetName()
}

func typeName(n string) string { return strings.TrimPrefix(n, ".") }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
