package manifests

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"path"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// testRunCRD is the k6-operator's TestRun CRD (crds/k6.io_testruns.yaml
// says which release).
//
//go:embed crds/k6.io_testruns.yaml
var testRunCRD []byte

// TestRunCRD returns the k6-operator's TestRun CustomResourceDefinition,
// vendored from the operator's release (crds/k6.io_testruns.yaml).
func TestRunCRD() (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := yaml.Unmarshal(testRunCRD, &m); err != nil {
		return nil, fmt.Errorf("the vendored TestRun CRD: %w", err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// Build runs kustomize over the kustomization in dir of fsys (the tree's
// root, "base" or an overlay) and returns the objects it builds, in
// kustomize's order.
func Build(fsys filesys.FileSystem, dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, res := range rm.Resources() {
		// Through JSON: numbers become int64, as client-go's are.
		b, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, res.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, res.CurId(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

// BuildFiles builds the kustomization in dir of a tree held in memory
// (Render's files).
func BuildFiles(files []File, dir string) ([]*unstructured.Unstructured, error) {
	fsys := filesys.MakeFsInMemory()
	for _, f := range files {
		if err := fsys.MkdirAll(path.Dir("/" + f.Path)); err != nil {
			return nil, err
		}
		if err := fsys.WriteFile("/"+f.Path, f.Data); err != nil {
			return nil, err
		}
	}
	return Build(fsys, path.Join("/", dir))
}

// DecodeStrict decodes every object of a kind client-go knows (the
// built-in API types, k8s.io/api) strictly: an unknown or duplicate field
// is an error. It returns the kinds it could not check (the TestRun, a
// custom resource: the API server checks it against its CRD's schema).
func DecodeStrict(objs []*unstructured.Unstructured) (unchecked []string, err error) {
	s := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{Strict: true})
	var errs []error
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if !scheme.Scheme.Recognizes(gvk) {
			unchecked = append(unchecked, gvk.Kind+"/"+o.GetName())
			continue
		}
		b, err := o.MarshalJSON()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		typed, err := scheme.Scheme.New(gvk)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, _, err := s.Decode(bytes.TrimSpace(b), &gvk, typed); err != nil {
			if runtime.IsStrictDecodingError(err) {
				errs = append(errs, fmt.Errorf("%s %s: %w", gvk.Kind, o.GetName(), err))
				continue
			}
			errs = append(errs, fmt.Errorf("%s %s: decoding: %w", gvk.Kind, o.GetName(), err))
		}
	}
	return unchecked, errors.Join(errs...)
}
