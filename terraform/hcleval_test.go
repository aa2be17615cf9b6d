package terraform_test

// A small evaluator for this directory's Terraform configuration, built on
// HashiCorp's HCL library, so the drift test can compare what Terraform would
// create with what the code expects, offline (no providers, no state).
//
// It evaluates variables (defaults or test-supplied values), locals,
// resources, data sources and ephemeral resources, with count, for_each and
// dynamic blocks, to cty values. Attributes that only the provider knows are
// synthesized per resource type (synthesize below): the ones whose format is
// documented (a topic's id is projects/P/topics/NAME, a service account's
// email is ID@P.iam.gserviceaccount.com, ...) get that format; the others
// (hashes, numbers) get a recognizable placeholder, see computed. Referring to
// a computed attribute not listed there is an evaluation error, never a
// silent pass.

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// tfBlock is one resource, data or ephemeral block.
type tfBlock struct {
	Mode string // "resource", "data" or "ephemeral"
	Type string
	Name string
	Body *hclsyntax.Body
	// Refs are the addresses of the resources, data sources and ephemeral
	// resources the block refers to anywhere in its body, depends_on
	// included (e.g. "time_sleep.iam_propagation").
	Refs map[string]bool
}

// references returns the addresses of the blocks that n (a body or an
// expression) refers to.
func references(n hclsyntax.Node) map[string]bool {
	refs := map[string]bool{}
	hclsyntax.VisitAll(n, func(n hclsyntax.Node) hcl.Diagnostics {
		e, ok := n.(*hclsyntax.ScopeTraversalExpr)
		if !ok {
			return nil
		}
		tr := e.Traversal
		names := []string{tr.RootName()}
		for _, step := range tr[1:] {
			a, ok := step.(hcl.TraverseAttr)
			if !ok {
				break
			}
			names = append(names, a.Name)
		}
		switch {
		case len(names) >= 3 && (names[0] == "data" || names[0] == "ephemeral"):
			refs[strings.Join(names[:3], ".")] = true
		case len(names) >= 2 && names[0] != "var" && names[0] != "local" && names[0] != "each" && names[0] != "count" && names[0] != "path" && names[0] != "terraform" && names[0] != "self":
			refs[names[0]+"."+names[1]] = true
		}
		return nil
	})
	return refs
}

// requiredProvider is one entry of terraform { required_providers { … } }.
type requiredProvider struct {
	Source, Version string
}

// importBlock is an import block: for_each (optional), to and id.
type importBlock struct {
	Body *hclsyntax.Body
}

// importInst is one evaluated import: the resource address it imports into
// and the remote object's id.
type importInst struct {
	To, ID string
}

func (b *tfBlock) addr() string {
	if b.Mode == "resource" {
		return b.Type + "." + b.Name
	}
	return b.Mode + "." + b.Type + "." + b.Name
}

// module is a parsed directory of .tf files.
type module struct {
	Variables         map[string]*hclsyntax.Body
	Locals            map[string]*hclsyntax.Attribute
	Outputs           map[string]*hclsyntax.Body
	Blocks            []*tfBlock
	Imports           []*importBlock
	RequiredProviders map[string]requiredProvider
	RequiredVersion   string
}

// readTF returns the .tf files of dir by base name.
func readTF(dir string) (map[string][]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(n)] = b
	}
	return files, nil
}

// parseModule parses the given files (name → content) as one module.
func parseModule(files map[string][]byte) (*module, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no .tf files")
	}
	m := &module{
		Variables:         map[string]*hclsyntax.Body{},
		Locals:            map[string]*hclsyntax.Attribute{},
		Outputs:           map[string]*hclsyntax.Body{},
		RequiredProviders: map[string]requiredProvider{},
	}
	seen := map[string]bool{}
	p := hclparse.NewParser()
	for _, name := range sortedKeys(files) {
		f, diags := p.ParseHCL(files[name], name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", name, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		if len(body.Attributes) > 0 {
			return nil, fmt.Errorf("%s: unexpected top-level attributes", name)
		}
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				m.Variables[b.Labels[0]] = b.Body
			case "locals":
				for n, a := range b.Body.Attributes {
					if _, dup := m.Locals[n]; dup {
						return nil, fmt.Errorf("%s: local.%s defined twice", name, n)
					}
					m.Locals[n] = a
				}
			case "output":
				m.Outputs[b.Labels[0]] = b.Body
			case "resource", "data", "ephemeral":
				blk := &tfBlock{Mode: b.Type, Type: b.Labels[0], Name: b.Labels[1], Body: b.Body, Refs: references(b.Body)}
				if seen[blk.addr()] {
					return nil, fmt.Errorf("%s: %s defined twice", name, blk.addr())
				}
				seen[blk.addr()] = true
				m.Blocks = append(m.Blocks, blk)
			case "import":
				m.Imports = append(m.Imports, &importBlock{Body: b.Body})
			case "terraform":
				if err := m.readTerraformBlock(name, b.Body); err != nil {
					return nil, err
				}
			case "provider", "check", "moved", "removed":
				// Not part of what gets created.
			default:
				return nil, fmt.Errorf("%s: unknown top-level block %q", name, b.Type)
			}
		}
	}
	return m, nil
}

// readTerraformBlock records required_version and required_providers.
func (m *module) readTerraformBlock(file string, body *hclsyntax.Body) error {
	if a, ok := body.Attributes["required_version"]; ok {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			return fmt.Errorf("%s: required_version: %s", file, diags.Error())
		}
		m.RequiredVersion = asString(v)
	}
	for _, b := range body.Blocks {
		if b.Type != "required_providers" {
			continue
		}
		for name, a := range b.Body.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return fmt.Errorf("%s: required_providers.%s: %s", file, name, diags.Error())
			}
			m.RequiredProviders[name] = requiredProvider{Source: str(v, "source"), Version: str(v, "version")}
		}
	}
	return nil
}

// instance is one evaluated resource, data source or ephemeral resource
// (one per for_each key or count index).
type instance struct {
	Block          *tfBlock
	Key            string // for_each key or count index; "" for a single instance
	Val            cty.Value
	PreventDestroy bool
}

func (i *instance) String() string {
	if i.Key == "" {
		return i.Block.addr()
	}
	return fmt.Sprintf("%s[%q]", i.Block.addr(), i.Key)
}

// evaluated is a module evaluated with a given set of variables.
type evaluated struct {
	Project, Region string
	Vars            map[string]cty.Value
	Locals          map[string]cty.Value
	Outputs         map[string]cty.Value
	Instances       []*instance
	Imports         []importInst
	// RequiredProviders is the module's required_providers, by local name.
	RequiredProviders map[string]requiredProvider
}

// ofType returns the managed-resource instances of a type, in a stable order.
func (e *evaluated) ofType(typ string) []*instance {
	var out []*instance
	for _, i := range e.Instances {
		if i.Block.Mode == "resource" && i.Block.Type == typ {
			out = append(out, i)
		}
	}
	return out
}

// evaluate evaluates m. vars gives values for variables (required ones and
// overrides); project and region name the variables holding the project ID
// and the default region, used for synthesized attributes.
func evaluate(m *module, vars map[string]cty.Value, projectVar, regionVar string) (*evaluated, error) {
	ev := &evaluated{
		Vars:              map[string]cty.Value{},
		Locals:            map[string]cty.Value{},
		Outputs:           map[string]cty.Value{},
		RequiredProviders: m.RequiredProviders,
	}
	for name, body := range m.Variables {
		if v, ok := vars[name]; ok {
			ev.Vars[name] = v
			continue
		}
		def, ok := body.Attributes["default"]
		if !ok {
			return nil, fmt.Errorf("variable %q has no default and the test gives it no value", name)
		}
		v, diags := def.Expr.Value(nil)
		if diags.HasErrors() {
			return nil, fmt.Errorf("variable %q default: %s", name, diags.Error())
		}
		ev.Vars[name] = v
	}
	for name := range vars {
		if _, ok := m.Variables[name]; !ok {
			return nil, fmt.Errorf("the test gives a value for variable %q, which the configuration does not declare", name)
		}
	}
	ev.Project = asString(ev.Vars[projectVar])
	ev.Region = asString(ev.Vars[regionVar])

	// Resources refer to each other in any order: evaluate in passes until
	// everything is known, and report what is left if a pass makes no
	// progress (a reference to something missing, or a cycle).
	blockVals := map[*tfBlock]cty.Value{}
	pendingLocals := sortedKeys(m.Locals)
	pendingBlocks := append([]*tfBlock(nil), m.Blocks...)
	for len(pendingLocals)+len(pendingBlocks) > 0 {
		ctx := ev.context(m, blockVals)
		errs := map[string]string{}
		var nextLocals []string
		for _, name := range pendingLocals {
			v, diags := m.Locals[name].Expr.Value(ctx)
			if diags.HasErrors() {
				errs["local."+name] = diags.Error()
				nextLocals = append(nextLocals, name)
				continue
			}
			ev.Locals[name] = v
		}
		var nextBlocks []*tfBlock
		for _, b := range pendingBlocks {
			insts, val, err := ev.evalBlock(b, ctx)
			if err != nil {
				errs[b.addr()] = err.Error()
				nextBlocks = append(nextBlocks, b)
				continue
			}
			blockVals[b] = val
			ev.Instances = append(ev.Instances, insts...)
		}
		if len(nextLocals) == len(pendingLocals) && len(nextBlocks) == len(pendingBlocks) {
			var b strings.Builder
			for _, k := range sortedKeys(errs) {
				fmt.Fprintf(&b, "\n  %s: %s", k, errs[k])
			}
			return nil, fmt.Errorf("cannot evaluate %d item(s):%s", len(errs), b.String())
		}
		pendingLocals, pendingBlocks = nextLocals, nextBlocks
	}
	ctx := ev.context(m, blockVals)
	for name, body := range m.Outputs {
		a, ok := body.Attributes["value"]
		if !ok {
			return nil, fmt.Errorf("output %q has no value", name)
		}
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("output %q: %s", name, diags.Error())
		}
		ev.Outputs[name] = v
	}
	for _, imp := range m.Imports {
		insts, err := evalImport(imp, ctx)
		if err != nil {
			return nil, err
		}
		ev.Imports = append(ev.Imports, insts...)
	}
	sort.SliceStable(ev.Instances, func(i, j int) bool { return ev.Instances[i].String() < ev.Instances[j].String() })
	return ev, nil
}

// evalImport evaluates an import block: one importInst per for_each element
// (none when for_each is empty), or exactly one without for_each.
func evalImport(imp *importBlock, ctx *hcl.EvalContext) ([]importInst, error) {
	toAttr, ok := imp.Body.Attributes["to"]
	if !ok {
		return nil, fmt.Errorf("import block without to")
	}
	idAttr, ok := imp.Body.Attributes["id"]
	if !ok {
		return nil, fmt.Errorf("import block without id")
	}
	tr, diags := hcl.AbsTraversalForExpr(toAttr.Expr)
	if diags.HasErrors() {
		return nil, fmt.Errorf("import to: %s", diags.Error())
	}
	var parts []string
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		default:
			return nil, fmt.Errorf("import to: only plain resource addresses are supported here")
		}
	}
	to := strings.Join(parts, ".")
	one := func(child *hcl.EvalContext) (importInst, error) {
		v, diags := idAttr.Expr.Value(child)
		if diags.HasErrors() {
			return importInst{}, fmt.Errorf("import %s id: %s", to, diags.Error())
		}
		return importInst{To: to, ID: asString(v)}, nil
	}
	fe, ok := imp.Body.Attributes["for_each"]
	if !ok {
		inst, err := one(ctx)
		if err != nil {
			return nil, err
		}
		return []importInst{inst}, nil
	}
	coll, diags := fe.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, fmt.Errorf("import %s for_each: %s", to, diags.Error())
	}
	items, err := eachItems(coll)
	if err != nil {
		return nil, fmt.Errorf("import %s for_each: %w", to, err)
	}
	var out []importInst
	for _, it := range items {
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
			"key": cty.StringVal(it.key), "value": it.value,
		})}
		inst, err := one(child)
		if err != nil {
			return nil, err
		}
		out = append(out, inst)
	}
	return out, nil
}

// context builds the evaluation context from what is known so far.
func (e *evaluated) context(m *module, blockVals map[*tfBlock]cty.Value) *hcl.EvalContext {
	roots := map[string]map[string]map[string]cty.Value{} // mode → type → name → value
	for b, v := range blockVals {
		if roots[b.Mode] == nil {
			roots[b.Mode] = map[string]map[string]cty.Value{}
		}
		if roots[b.Mode][b.Type] == nil {
			roots[b.Mode][b.Type] = map[string]cty.Value{}
		}
		roots[b.Mode][b.Type][b.Name] = v
	}
	vars := map[string]cty.Value{
		"var":   cty.ObjectVal(e.Vars),
		"local": cty.ObjectVal(e.Locals),
		"path": cty.ObjectVal(map[string]cty.Value{
			"module": cty.StringVal("."), "root": cty.StringVal("."), "cwd": cty.StringVal("."),
		}),
		"terraform": cty.ObjectVal(map[string]cty.Value{"workspace": cty.StringVal("default")}),
	}
	for typ, byName := range roots["resource"] {
		vars[typ] = cty.ObjectVal(byName)
	}
	for _, mode := range []string{"data", "ephemeral"} {
		types := map[string]cty.Value{}
		for typ, byName := range roots[mode] {
			types[typ] = cty.ObjectVal(byName)
		}
		vars[mode] = cty.ObjectVal(types)
	}
	return &hcl.EvalContext{Variables: vars, Functions: tfFunctions()}
}

// evalBlock evaluates all instances of b. The returned value is what a
// reference to b sees: an object, a tuple (count) or an object keyed by the
// for_each keys.
func (e *evaluated) evalBlock(b *tfBlock, ctx *hcl.EvalContext) ([]*instance, cty.Value, error) {
	preventDestroy := false
	for _, lb := range b.Body.Blocks {
		if lb.Type != "lifecycle" {
			continue
		}
		if a, ok := lb.Body.Attributes["prevent_destroy"]; ok {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, cty.NilVal, fmt.Errorf("lifecycle.prevent_destroy: %s", diags.Error())
			}
			preventDestroy = v.True()
		}
	}
	one := func(key string, child *hcl.EvalContext) (*instance, error) {
		obj, err := evalBody(b.Body, child, true)
		if err != nil {
			return nil, err
		}
		inst := &instance{Block: b, Key: key, PreventDestroy: preventDestroy}
		inst.Val = e.synthesize(inst, obj)
		return inst, nil
	}
	if fe, ok := b.Body.Attributes["for_each"]; ok {
		coll, diags := fe.Expr.Value(ctx)
		if diags.HasErrors() {
			return nil, cty.NilVal, fmt.Errorf("for_each: %s", diags.Error())
		}
		items, err := eachItems(coll)
		if err != nil {
			return nil, cty.NilVal, fmt.Errorf("for_each: %w", err)
		}
		var insts []*instance
		byKey := map[string]cty.Value{}
		for _, it := range items {
			child := ctx.NewChild()
			child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
				"key": cty.StringVal(it.key), "value": it.value,
			})}
			inst, err := one(it.key, child)
			if err != nil {
				return nil, cty.NilVal, fmt.Errorf("[%q]: %w", it.key, err)
			}
			insts = append(insts, inst)
			byKey[it.key] = inst.Val
		}
		return insts, cty.ObjectVal(byKey), nil
	}
	if c, ok := b.Body.Attributes["count"]; ok {
		nv, diags := c.Expr.Value(ctx)
		if diags.HasErrors() {
			return nil, cty.NilVal, fmt.Errorf("count: %s", diags.Error())
		}
		var n int
		if err := fromNumber(nv, &n); err != nil {
			return nil, cty.NilVal, fmt.Errorf("count: %w", err)
		}
		var insts []*instance
		var vals []cty.Value
		for i := range n {
			child := ctx.NewChild()
			child.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))})}
			inst, err := one(fmt.Sprint(i), child)
			if err != nil {
				return nil, cty.NilVal, fmt.Errorf("[%d]: %w", i, err)
			}
			insts = append(insts, inst)
			vals = append(vals, inst.Val)
		}
		if len(vals) == 0 {
			return insts, cty.EmptyTupleVal, nil
		}
		return insts, cty.TupleVal(vals), nil
	}
	inst, err := one("", ctx)
	if err != nil {
		return nil, cty.NilVal, err
	}
	return []*instance{inst}, inst.Val, nil
}

type eachItem struct {
	key   string
	value cty.Value
}

func eachItems(coll cty.Value) ([]eachItem, error) {
	if coll.IsNull() || !coll.IsWhollyKnown() {
		return nil, fmt.Errorf("must be a known, non-null map or set")
	}
	ty := coll.Type()
	var out []eachItem
	switch {
	case ty.IsSetType():
		for it := coll.ElementIterator(); it.Next(); {
			_, v := it.Element()
			s, err := convert.Convert(v, cty.String)
			if err != nil {
				return nil, fmt.Errorf("a set must hold strings: %w", err)
			}
			out = append(out, eachItem{key: s.AsString(), value: v})
		}
	case ty.IsMapType() || ty.IsObjectType():
		for it := coll.ElementIterator(); it.Next(); {
			k, v := it.Element()
			out = append(out, eachItem{key: k.AsString(), value: v})
		}
	default:
		return nil, fmt.Errorf("must be a map or a set of strings, not %s", ty.FriendlyName())
	}
	return out, nil
}

// metaArguments are not part of a resource's value.
var metaArguments = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}

// evalBody evaluates a block body to an object: attributes by name and
// nested blocks as tuples of objects by block type.
func evalBody(body *hclsyntax.Body, ctx *hcl.EvalContext, top bool) (cty.Value, error) {
	vals := map[string]cty.Value{}
	for _, name := range sortedKeys(body.Attributes) {
		if top && metaArguments[name] {
			continue
		}
		v, diags := body.Attributes[name].Expr.Value(ctx)
		if diags.HasErrors() {
			return cty.NilVal, fmt.Errorf("%s: %s", name, diags.Error())
		}
		vals[name] = v
	}
	blocks := map[string][]cty.Value{}
	for _, b := range body.Blocks {
		switch {
		case top && (b.Type == "lifecycle" || b.Type == "timeouts" || b.Type == "provisioner" || b.Type == "connection"):
			continue
		case b.Type == "dynamic":
			objs, err := evalDynamic(b, ctx)
			if err != nil {
				return cty.NilVal, err
			}
			blocks[b.Labels[0]] = append(blocks[b.Labels[0]], objs...)
		default:
			obj, err := evalBody(b.Body, ctx, false)
			if err != nil {
				return cty.NilVal, fmt.Errorf("%s: %w", b.Type, err)
			}
			blocks[b.Type] = append(blocks[b.Type], obj)
		}
	}
	for typ, objs := range blocks {
		if _, clash := vals[typ]; clash {
			return cty.NilVal, fmt.Errorf("%s is both an attribute and a block", typ)
		}
		vals[typ] = cty.TupleVal(objs)
	}
	return cty.ObjectVal(vals), nil
}

// evalDynamic expands a dynamic block into one object per element.
func evalDynamic(b *hclsyntax.Block, ctx *hcl.EvalContext) ([]cty.Value, error) {
	label := b.Labels[0]
	fe, ok := b.Body.Attributes["for_each"]
	if !ok {
		return nil, fmt.Errorf("dynamic %q: no for_each", label)
	}
	coll, diags := fe.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, fmt.Errorf("dynamic %q for_each: %s", label, diags.Error())
	}
	iter := label
	if a, ok := b.Body.Attributes["iterator"]; ok {
		iter = hcl.ExprAsKeyword(a.Expr)
	}
	var content *hclsyntax.Body
	for _, cb := range b.Body.Blocks {
		if cb.Type == "content" {
			content = cb.Body
		}
	}
	if content == nil {
		return nil, fmt.Errorf("dynamic %q: no content block", label)
	}
	if coll.IsNull() || !coll.IsWhollyKnown() {
		return nil, fmt.Errorf("dynamic %q for_each must be known", label)
	}
	if !coll.CanIterateElements() {
		return nil, fmt.Errorf("dynamic %q for_each must be a collection", label)
	}
	var out []cty.Value
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if coll.Type().IsSetType() {
			k = v
		}
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{iter: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		obj, err := evalBody(content, child, false)
		if err != nil {
			return nil, fmt.Errorf("dynamic %q: %w", label, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// computed is the placeholder for a computed attribute whose value only the
// provider knows (a hash, a project number, a generated password).
func computed(addr, attr string) string { return "(computed " + addr + "." + attr + ")" }

// synthesize adds the computed attributes of a resource to its evaluated
// configuration, in their documented formats where there is one.
func (e *evaluated) synthesize(inst *instance, obj cty.Value) cty.Value {
	attrs := obj.AsValueMap()
	if attrs == nil {
		attrs = map[string]cty.Value{}
	}
	get := func(name string) string { return asString(attrs[name]) }
	set := func(name, val string) {
		if v, ok := attrs[name]; !ok || v.IsNull() {
			attrs[name] = cty.StringVal(val)
		}
	}
	project := get("project")
	if project == "" {
		project = e.Project
	}
	location := get("location")
	if location == "" {
		location = e.Region
	}
	addr := inst.String()
	switch inst.Block.Mode + " " + inst.Block.Type {
	case "resource google_service_account":
		email := get("account_id") + "@" + project + ".iam.gserviceaccount.com"
		set("email", email)
		set("name", "projects/"+project+"/serviceAccounts/"+email)
		set("id", "projects/"+project+"/serviceAccounts/"+email)
		set("member", "serviceAccount:"+email)
		set("unique_id", computed(addr, "unique_id"))
	case "resource google_pubsub_topic":
		set("id", "projects/"+project+"/topics/"+get("name"))
	case "resource google_pubsub_subscription":
		set("id", "projects/"+project+"/subscriptions/"+get("name"))
	case "resource google_cloudfunctions2_function":
		name := get("name")
		set("id", "projects/"+project+"/locations/"+location+"/functions/"+name)
		set("url", "https://"+location+"-"+project+".cloudfunctions.net/"+name)
		set("location", location)
		sc := map[string]cty.Value{}
		if v, ok := attrs["service_config"]; ok && v.LengthInt() > 0 {
			sc = v.Index(cty.NumberIntVal(0)).AsValueMap()
			if sc == nil {
				sc = map[string]cty.Value{}
			}
		}
		sc["service"] = cty.StringVal("projects/" + project + "/locations/" + location + "/services/" + name)
		sc["uri"] = cty.StringVal(runURI(name))
		attrs["service_config"] = cty.TupleVal([]cty.Value{cty.ObjectVal(sc)})
	case "resource google_secret_manager_secret":
		set("id", "projects/"+project+"/secrets/"+get("secret_id"))
		set("name", "projects/"+project+"/secrets/"+get("secret_id"))
	case "resource google_secret_manager_secret_version":
		set("version", "1")
		set("name", get("secret")+"/versions/1")
		set("id", get("secret")+"/versions/1")
	case "resource google_kms_key_ring":
		set("id", "projects/"+project+"/locations/"+location+"/keyRings/"+get("name"))
	case "resource google_kms_crypto_key":
		set("id", get("key_ring")+"/cryptoKeys/"+get("name"))
	case "resource google_storage_bucket":
		set("id", get("name"))
		set("url", "gs://"+get("name"))
	case "resource google_storage_bucket_object":
		set("generation", computed(addr, "generation"))
		set("md5hash", computed(addr, "md5hash"))
	case "resource google_firestore_database":
		set("id", "projects/"+project+"/databases/"+get("name"))
	case "resource google_cloud_scheduler_job":
		set("id", "projects/"+project+"/locations/"+location+"/jobs/"+get("name"))
	case "data archive_file":
		for _, a := range []string{"output_md5", "output_sha", "output_sha256", "output_sha512", "output_base64sha256", "output_base64sha512", "output_size"} {
			set(a, computed(addr, a))
		}
	case "data google_project":
		set("number", computed(addr, "number"))
		set("project_id", project)
	case "ephemeral random_password":
		set("result", computed(addr, "result"))
	}
	set("id", computed(addr, "id"))
	return cty.ObjectVal(attrs)
}

// runURI is the synthesized Cloud Run URI of the function named name.
func runURI(name string) string { return "https://" + name + "-drift.a.run.app" }

// tfFunctions are the Terraform functions the configuration may use. A call
// to any other is an evaluation error: add it here.
func tfFunctions() map[string]function.Function {
	return map[string]function.Function{
		"base64encode": base64EncodeFunc,
		"coalesce":     stdlib.CoalesceFunc,
		"concat":       stdlib.ConcatFunc,
		"contains":     stdlib.ContainsFunc,
		"distinct":     stdlib.DistinctFunc,
		"flatten":      stdlib.FlattenFunc,
		"format":       stdlib.FormatFunc,
		"join":         stdlib.JoinFunc,
		"keys":         stdlib.KeysFunc,
		"length":       stdlib.LengthFunc,
		"lookup":       stdlib.LookupFunc,
		"lower":        stdlib.LowerFunc,
		"merge":        stdlib.MergeFunc,
		"replace":      stdlib.ReplaceFunc,
		"sort":         stdlib.SortFunc,
		"split":        stdlib.SplitFunc,
		"tolist":       stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":        stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"toset":        stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":     stdlib.MakeToFunc(cty.String),
		"trimprefix":   stdlib.TrimPrefixFunc,
		"trimspace":    stdlib.TrimSpaceFunc,
		"trimsuffix":   stdlib.TrimSuffixFunc,
		"upper":        stdlib.UpperFunc,
		"values":       stdlib.ValuesFunc,
	}
}

var base64EncodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

// at walks v along path (attribute names and list indexes) and returns what
// it finds, or cty.NilVal.
func at(v cty.Value, path ...any) cty.Value {
	for _, step := range path {
		if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
			return cty.NilVal
		}
		ty := v.Type()
		switch s := step.(type) {
		case string:
			switch {
			case ty.IsObjectType():
				if !ty.HasAttribute(s) {
					return cty.NilVal
				}
				v = v.GetAttr(s)
			case ty.IsMapType():
				k := cty.StringVal(s)
				if !v.HasIndex(k).True() {
					return cty.NilVal
				}
				v = v.Index(k)
			default:
				return cty.NilVal
			}
		case int:
			if !(ty.IsTupleType() || ty.IsListType()) || v.LengthInt() <= s {
				return cty.NilVal
			}
			v = v.Index(cty.NumberIntVal(int64(s)))
		default:
			panic(fmt.Sprintf("at: bad path step %T", step))
		}
	}
	return v
}

// str is at(...) as a string ("" when absent or not a primitive).
func str(v cty.Value, path ...any) string { return asString(at(v, path...)) }

func asString(v cty.Value) string {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsPrimitiveType() {
		return ""
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return ""
	}
	return s.AsString()
}

// stringMap returns an object or map of strings as a Go map.
func stringMap(v cty.Value) map[string]string {
	out := map[string]string{}
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if k.Type() == cty.String {
			out[k.AsString()] = asString(e)
		}
	}
	return out
}

// list returns the elements of a tuple, list or set (nil if none).
func list(v cty.Value) []cty.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
		return nil
	}
	var out []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e)
	}
	return out
}

func fromNumber(v cty.Value, n *int) error {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return fmt.Errorf("not a known number")
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != 0 {
		return fmt.Errorf("not a whole number")
	}
	*n = int(i)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
