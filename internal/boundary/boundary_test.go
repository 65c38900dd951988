package boundary

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// generic are the folders whose code must run any lab: none of their
// non-test Go files may name the shop (in a string or a comment).
var generic = []string{"harness", "faults", "internal", "cmd"}

// shopNames matches the shop's services, its edges and their proxies, its
// gRPC packages and its routes, as words.
var shopNames = regexp.MustCompile(`\b(gateway|orders|payments|inventory|Gateway|Orders|Payments|Inventory)\b|(orders|payments|inventory)\.v1|/v1/(orders|products)`)

// dockerGateway is Docker's network gateway, which is not the shop's.
var dockerGateway = regexp.MustCompile(`host-gateway|\{\{\.Gateway\}\}|IPAM gateway|bridge's gateway`)

// TestOnlyTheShopNamesTheShop fails with every line of generic code that
// names the shop: what it knows must come from the lab file. `make
// shop-names` prints the same lines.
func TestOnlyTheShopNamesTheShop(t *testing.T) {
	root := filepath.Join("..", "..")
	var found []string
	for _, dir := range generic {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			found = append(found, namesIn(t, path)...)
			return nil
		})
		require.NoError(t, err)
	}
	assert.Empty(t, found, "generic code names the shop (%d lines); take it from the lab file (harness/lab) or move it to labs/shop:\n%s",
		len(found), strings.Join(found, "\n"))
}

// namesIn returns "file:line: text" for each string literal and comment of
// the Go file at path that names the shop.
func namesIn(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	require.NoError(t, err)
	var out []string
	report := func(pos token.Pos, text string) {
		for _, line := range strings.Split(text, "\n") {
			if shopNames.MatchString(dockerGateway.ReplaceAllString(line, "")) {
				out = append(out, fset.Position(pos).String()+": "+strings.TrimSpace(line))
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				report(n.Pos(), n.Value)
			}
		case *ast.Ident:
			if shopNames.MatchString(n.Name) {
				report(n.Pos(), n.Name)
			}
		}
		return true
	})
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			report(c.Pos(), c.Text)
		}
	}
	return out
}

// The pattern catches what it is meant to, and not what merely contains a
// shop name.
func TestShopNamesPattern(t *testing.T) {
	for _, tt := range []struct {
		text string
		want bool
	}{
		{`"orders->payments"`, true},
		{`"/payments.v1.PaymentsService/Charge"`, true},
		{`"POST /v1/orders"`, true},
		{`// the gateway's key`, true},
		{`stack.Orders`, true},
		{`"gatewayURL"`, false},
		{`"reorders"`, false},
		{`// a caller and its callees`, false},
		{`"host.docker.internal:host-gateway"`, false},
	} {
		assert.Equal(t, tt.want, shopNames.MatchString(dockerGateway.ReplaceAllString(tt.text, "")), tt.text)
	}
}
