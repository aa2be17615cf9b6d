package connect

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/contactsync/contactsync/shared/store"
)

// TestEveryMessageHasAKey parses this package: every format given to
// userErr has a message key, so the settings page can translate it.
func TestEveryMessageHasAKey(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, f := range files {
		if filepath.Ext(f) != ".go" || len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "userErr" || len(call.Args) < 3 {
				return true
			}
			calls++
			format, ok := literal(call.Args[2])
			if !ok {
				t.Errorf("%s: userErr's format is not a string literal", fset.Position(call.Pos()))
				return true
			}
			if format == "%s" {
				return true // ready's messages, checked below
			}
			if _, ok := messageKeys[format]; !ok {
				t.Errorf("%s: no message key for %q", fset.Position(call.Pos()), format)
			}
			return true
		})
	}
	if calls < 20 {
		t.Fatalf("found only %d calls of userErr", calls)
	}
	for _, c := range []*store.Connection{{}, {PipedriveUserID: 1}, {PipedriveUserID: 1, GoogleAccount: "people/1"}} {
		if k, _ := keyOf("%s", ready(c)); k == "" {
			t.Errorf("no message key for %q", ready(c))
		}
	}
}

func literal(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		a, ok1 := literal(e.X)
		b, ok2 := literal(e.Y)
		return a + b, ok1 && ok2 && e.Op == token.ADD
	case *ast.ParenExpr:
		return literal(e.X)
	}
	return "", false
}
