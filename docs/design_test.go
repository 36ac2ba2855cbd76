// Package docs holds the tests that keep the design document true to the
// code: its schema section to the migrations, its API section to the
// routes, and every diagram of it and of the README renderable.
package docs

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	designDoc     = "design.md"
	routesFile    = "../internal/httpapi/routes.go"
	migrationsDir = "../internal/store/migrations"
)

// TestDesignSchemaMatchesMigrations holds the "Database schema" section to
// the migrations: every table is an entity of the ER diagram and a row of
// the table-by-table description, and neither names a table that is not
// there. Within a table, what the doc states as fact is checked too: the
// ER diagram's attributes are real columns of the stated type, with every
// key column and every foreign key drawn; the description's primary key,
// foreign keys and indexes are exactly the migrations'.
func TestDesignSchemaMatchesMigrations(t *testing.T) {
	pg := readMigrations(t, "postgres")
	lite := readMigrations(t, "sqlite")
	if len(pg) < 5 {
		t.Fatalf("found %d tables in the PostgreSQL migrations; the migration reader is broken", len(pg))
	}
	// The doc says both backends have the same tables and columns.
	for _, name := range union(keys(pg), keys(lite)) {
		p, l := pg[name], lite[name]
		switch {
		case p == nil:
			t.Errorf("table %s is created by the SQLite migrations only", name)
		case l == nil:
			t.Errorf("table %s is created by the PostgreSQL migrations only", name)
		case !slices.Equal(sorted(keys(p.cols)), sorted(keys(l.cols))):
			t.Errorf("table %s has other columns on SQLite than on PostgreSQL:\n  postgres: %v\n  sqlite:   %v", name, sorted(keys(p.cols)), sorted(keys(l.cols)))
		}
	}

	doc := readDoc(t, designDoc)
	section, at := sectionOf(t, doc, "Database schema")
	var er []block
	for _, b := range fencedBlocks(section, "mermaid") {
		if b.firstLine() == "erDiagram" {
			b.line += at
			er = append(er, b)
		}
	}
	if len(er) != 1 {
		t.Fatalf("the Database schema section of %s should have one erDiagram; it has %d", designDoc, len(er))
	}
	checkERDiagram(t, er[0], pg)

	desc := tableWithHeader(section, at, "table")
	if desc == nil {
		t.Fatalf("the Database schema section of %s has no table-by-table description (a table whose first column is \"table\")", designDoc)
	}
	checkDescription(t, desc, pg)
}

func checkERDiagram(t *testing.T, b block, tables map[string]*table) {
	t.Helper()
	er := parseER(t, b)
	for _, name := range sorted(keys(tables)) {
		if _, ok := er.entities[name]; !ok {
			t.Errorf("table %s is not an entity of the ER diagram (%s:%d)", name, designDoc, b.line)
		}
	}
	for _, name := range sorted(keys(er.entities)) {
		tb := tables[name]
		if tb == nil {
			t.Errorf("the ER diagram (%s:%d) has an entity %s, but the migrations create no such table", designDoc, b.line, name)
			continue
		}
		attrs := er.entities[name]
		for _, a := range attrs {
			c, ok := tb.cols[a.name]
			switch {
			case !ok:
				t.Errorf("ER diagram: %s.%s is not a column of %s", name, a.name, name)
				continue
			case a.typ != c.typ:
				t.Errorf("ER diagram: %s.%s is %s in the migrations, not %s", name, a.name, c.typ, a.typ)
			}
			for _, k := range []struct {
				mark string
				is   bool
			}{{"PK", slices.Contains(tb.pk, a.name)}, {"FK", tb.inFK(a.name)}, {"UK", c.unique}} {
				if a.keys[k.mark] != k.is {
					t.Errorf("ER diagram: %s.%s should %sbe marked %s", name, a.name, map[bool]string{true: "", false: "not "}[k.is], k.mark)
				}
			}
		}
		if len(attrs) == 0 {
			t.Errorf("ER diagram: entity %s lists no attributes; show at least its keys", name)
			continue
		}
		for _, col := range tb.keyColumns() {
			if !slices.ContainsFunc(attrs, func(a erAttr) bool { return a.name == col }) {
				t.Errorf("ER diagram: entity %s does not show its key column %s", name, col)
			}
		}
	}
	// A solid line is a foreign key, a dotted one a reference the
	// database does not enforce (the legend under the diagram says so).
	for _, name := range sorted(keys(tables)) {
		for _, fk := range tables[name].fks {
			if !er.linked(name, fk.ref, true) {
				t.Errorf("ER diagram: %s (%s) references %s, but no solid line joins them", name, strings.Join(fk.cols, ", "), fk.ref)
			}
		}
	}
	for _, r := range er.rels {
		if r.solid && tables[r.a] != nil && tables[r.b] != nil && !tables[r.a].references(r.b) && !tables[r.b].references(r.a) {
			t.Errorf("ER diagram: the solid line %s — %s (%q) is not a foreign key; draw it dotted (..)", r.a, r.b, r.label)
		}
	}
}

func checkDescription(t *testing.T, desc *mdTable, tables map[string]*table) {
	t.Helper()
	colPK, colFK, colIdx := desc.column("primary key"), desc.column("foreign keys"), desc.column("indexes")
	if colPK < 0 || colFK < 0 || colIdx < 0 {
		t.Fatalf("the table-by-table description (%s:%d) needs the columns \"primary key\", \"foreign keys\" and \"indexes\"; it has %q", designDoc, desc.line, desc.header)
	}
	seen := map[string]bool{}
	for _, row := range desc.rows {
		spans := codeSpans(row.cells[0])
		if len(spans) == 0 {
			t.Errorf("%s:%d: the first cell names no table in `backticks`", designDoc, row.line)
			continue
		}
		name := spans[0]
		tb := tables[name]
		if tb == nil {
			t.Errorf("%s:%d: the description has a row for %s, but the migrations create no such table", designDoc, row.line, name)
			continue
		}
		if seen[name] {
			t.Errorf("%s:%d: a second row for %s", designDoc, row.line, name)
		}
		seen[name] = true

		want := strings.Join(tb.pk, ", ")
		if got := strings.Trim(strings.Join(codeSpans(row.cells[colPK]), ""), "()"); got != want {
			t.Errorf("%s:%d: the primary key of %s is (%s), not (%s)", designDoc, row.line, name, want, got)
		}
		var fks []string
		for _, fk := range tb.fks {
			fks = append(fks, fk.String())
		}
		compareSets(t, row.line, "the foreign keys of "+name, fks, codeSpans(row.cells[colFK]))
		var idx []string
		for _, s := range codeSpans(row.cells[colIdx]) {
			if strings.HasPrefix(s, "(") || strings.HasPrefix(s, "unique (") {
				idx = append(idx, normalizeSQL(s))
			}
		}
		compareSets(t, row.line, "the indexes of "+name, tb.indexList(), idx)
	}
	for _, name := range sorted(keys(tables)) {
		if !seen[name] {
			t.Errorf("table %s has no row in the table-by-table description (%s:%d)", name, designDoc, desc.line)
		}
	}
}

// compareSets reports what the migrations have that the doc's cell lacks,
// and the reverse.
func compareSets(t *testing.T, line int, what string, migrations, doc []string) {
	t.Helper()
	for _, m := range migrations {
		if !slices.Contains(doc, m) {
			t.Errorf("%s:%d: %s: `%s` is in the migrations but not in the doc", designDoc, line, what, m)
		}
	}
	for _, d := range doc {
		if !slices.Contains(migrations, d) {
			t.Errorf("%s:%d: %s: the doc says `%s`, which the migrations do not create (they have %q)", designDoc, line, what, d, migrations)
		}
	}
}

// TestDesignRoutesMatchCode holds the "API design" section's route table
// to internal/httpapi/routes.go: one row per route, none more, each with
// the authentication routes.go puts in front of it. And wherever the doc
// names a route in `METHOD /path` form, that route exists.
func TestDesignRoutesMatchCode(t *testing.T) {
	routes := readRoutes(t)
	doc := readDoc(t, designDoc)
	section, at := sectionOf(t, doc, "API design")
	rt := tableWithHeader(section, at, "route")
	if rt == nil {
		t.Fatalf("the API design section of %s has no route table (a table whose first column is \"route\")", designDoc)
	}
	colAuth := rt.column("authentication")
	if colAuth < 0 {
		t.Fatalf("the route table (%s:%d) needs an \"authentication\" column; it has %q", designDoc, rt.line, rt.header)
	}
	listed := map[string]bool{}
	for _, row := range rt.rows {
		spans := codeSpans(row.cells[0])
		if len(spans) != 1 {
			t.Errorf("%s:%d: a route row names one `METHOD /path` in its first cell", designDoc, row.line)
			continue
		}
		pattern := spans[0]
		auth, ok := routes[pattern]
		if !ok {
			t.Errorf("%s:%d: the route table lists %s, which routes.go does not register", designDoc, row.line, pattern)
			continue
		}
		if listed[pattern] {
			t.Errorf("%s:%d: %s is listed twice", designDoc, row.line, pattern)
		}
		listed[pattern] = true
		if got := strings.TrimSpace(row.cells[colAuth]); got != auth {
			t.Errorf("%s:%d: %s takes %q in routes.go, the route table says %q", designDoc, row.line, pattern, auth, got)
		}
	}
	for _, p := range sorted(keys(routes)) {
		if !listed[p] {
			t.Errorf("route %s (routes.go) is missing from the route table of %s (%s:%d)", p, designDoc, designDoc, rt.line)
		}
	}

	mux := http.NewServeMux()
	for p := range routes {
		mux.Handle(p, http.NotFoundHandler())
	}
	mention := regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE) (/\S*)$`)
	for i, line := range strings.Split(doc, "\n") {
		for _, s := range codeSpans(line) {
			m := mention.FindStringSubmatch(s)
			if m == nil {
				continue
			}
			path, _, _ := strings.Cut(m[2], "?")
			path = strings.TrimSuffix(path, "{$}") // a pattern's end-of-path anchor: the path itself
			req := httptest.NewRequest(m[1], "http://paygate.test"+path, nil)
			if _, pattern := mux.Handler(req); pattern == "" {
				t.Errorf("%s:%d: `%s` is not a route of routes.go", designDoc, i+1, s)
			}
		}
	}
}

// readRoutes maps each route pattern of routes.go to the authentication in
// front of it, in the route table's words.
func readRoutes(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"merchant": "secret key", "admin": "admin token"}
	re := regexp.MustCompile(`mux\.Handle\("([A-Z]+ [^"]+)",\s*([\w.]+)(\(?)`)
	routes := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		a := "none"
		if m[3] == "(" && auth[m[2]] != "" {
			a = auth[m[2]]
		}
		routes[m[1]] = a
	}
	if n := strings.Count(string(src), "mux.Handle("); len(routes) != n || n < 10 {
		t.Fatalf("read %d routes of %d mux.Handle calls in %s; the route reader is broken", len(routes), n, routesFile)
	}
	return routes
}

// Markdown.

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var fence = regexp.MustCompile("^```\\s*([\\w-]*)\\s*$")

// fencedBlocks returns the fenced code blocks of doc in language lang.
func fencedBlocks(doc, lang string) []block {
	var out []block
	var cur *block
	var body []string
	for i, line := range strings.Split(doc, "\n") {
		m := fence.FindStringSubmatch(line)
		switch {
		case cur == nil && m != nil:
			cur, body = &block{line: i + 2}, nil
			if m[1] != lang {
				cur.line = -1
			}
		case cur != nil && m != nil && m[1] == "":
			if cur.line > 0 {
				cur.text = strings.Join(body, "\n")
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	return out
}

// sectionOf returns the level-2 section whose heading contains title, up
// to the next level-2 heading, and the number of lines before it.
func sectionOf(t *testing.T, doc, title string) (string, int) {
	t.Helper()
	lines := strings.Split(doc, "\n")
	start := -1
	inFence := false
	for i, line := range lines {
		if fence.MatchString(line) {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "## ") {
			continue
		}
		if start >= 0 {
			return strings.Join(lines[start:i], "\n"), start
		}
		if strings.Contains(line, title) {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("%s has no section headed %q", designDoc, "## … "+title)
	}
	return strings.Join(lines[start:], "\n"), start
}

type mdTable struct {
	line   int // of the header in the document, 1-based
	header []string
	rows   []mdRow
}

type mdRow struct {
	line  int
	cells []string
}

func (m *mdTable) column(name string) int {
	return slices.IndexFunc(m.header, func(h string) bool { return strings.EqualFold(h, name) })
}

// tableWithHeader returns the first Markdown table of text whose first
// header cell is first; text starts after offset lines of the document.
func tableWithHeader(text string, offset int, first string) *mdTable {
	lines := strings.Split(text, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "|") || !strings.HasPrefix(lines[i+1], "|--") && !strings.HasPrefix(lines[i+1], "| --") {
			continue
		}
		header := cells(lines[i])
		if !strings.EqualFold(header[0], first) {
			continue
		}
		tb := &mdTable{line: offset + i + 1, header: header}
		for j := i + 2; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
			row := cells(lines[j])
			for len(row) < len(header) {
				row = append(row, "")
			}
			tb.rows = append(tb.rows, mdRow{line: offset + j + 1, cells: row})
		}
		return tb
	}
	return nil
}

// cells splits a table row at the pipes outside code spans.
func cells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var out []string
	var cur strings.Builder
	inCode := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '`':
			inCode = !inCode
		case c == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
			continue
		case c == '|' && !inCode:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, strings.TrimSpace(cur.String()))
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

func codeSpans(s string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(s, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// The ER diagram.

type erAttr struct {
	typ, name string
	keys      map[string]bool
}

type erRel struct {
	a, b, label string
	solid       bool
}

type erDiagram struct {
	entities map[string][]erAttr
	rels     []erRel
}

func (d *erDiagram) linked(a, b string, solid bool) bool {
	return slices.ContainsFunc(d.rels, func(r erRel) bool {
		return r.solid == solid && (r.a == a && r.b == b || r.a == b && r.b == a)
	})
}

var (
	erEntity   = regexp.MustCompile(`(?m)^[ \t]*([A-Za-z_]\w*)[ \t]*\{([^}]*)\}`)
	erRelation = regexp.MustCompile(`^([A-Za-z_]\w*)\s+([|}][o|])(--|\.\.)([o|][|{])\s+([A-Za-z_]\w*)\s*:\s*(.+)$`)
	erName     = regexp.MustCompile(`^[A-Za-z_]\w*$`)
)

// parseER reads the part of mermaid's erDiagram syntax the doc uses:
// relationship lines, and entity blocks of "type name [PK, FK, UK]
// ["comment"]" attributes. A line it cannot read fails the test, so that
// the check never passes by overlooking what it does not understand.
func parseER(t *testing.T, b block) *erDiagram {
	t.Helper()
	d := &erDiagram{entities: map[string][]erAttr{}}
	var text []string
	for _, line := range strings.Split(b.text, "\n") {
		line, _, _ = strings.Cut(line, "%%")
		text = append(text, line)
	}
	rest := erEntity.ReplaceAllStringFunc(strings.Join(text, "\n"), func(m string) string {
		sub := erEntity.FindStringSubmatch(m)
		name := sub[1]
		attrs := d.entities[name]
		for _, line := range strings.Split(sub[2], "\n") {
			line, _, _ = strings.Cut(line, `"`)
			f := strings.Fields(strings.ReplaceAll(line, ",", " "))
			if len(f) == 0 {
				continue
			}
			if len(f) < 2 {
				t.Errorf("%s:%d: cannot read the attribute %q of entity %s", designDoc, b.line, line, name)
				continue
			}
			a := erAttr{typ: strings.ToLower(f[0]), name: f[1], keys: map[string]bool{}}
			for _, k := range f[2:] {
				a.keys[k] = true
			}
			attrs = append(attrs, a)
		}
		d.entities[name] = attrs
		return strings.Repeat("\n", strings.Count(m, "\n"))
	})
	for i, line := range strings.Split(rest, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line == "erDiagram" || strings.HasPrefix(line, "direction "):
		case erName.MatchString(line):
			if _, ok := d.entities[line]; !ok {
				d.entities[line] = nil
			}
		default:
			m := erRelation.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s:%d: cannot read this line of the ER diagram: %q", designDoc, b.line+i, line)
				continue
			}
			for _, e := range []string{m[1], m[5]} {
				if _, ok := d.entities[e]; !ok {
					d.entities[e] = nil
				}
			}
			d.rels = append(d.rels, erRel{a: m[1], b: m[5], solid: m[3] == "--", label: strings.Trim(m[6], `" `)})
		}
	}
	return d
}

// The migrations.

type column struct {
	typ    string
	unique bool
}

type foreignKey struct {
	cols []string
	ref  string
}

func (f foreignKey) String() string {
	if len(f.cols) == 1 {
		return f.cols[0] + " → " + f.ref
	}
	return "(" + strings.Join(f.cols, ", ") + ") → " + f.ref
}

type table struct {
	name    string
	cols    map[string]*column
	pk      []string
	fks     []foreignKey
	indexes map[string]string // name → normalized "[unique ](cols)[ WHERE …]"
}

func (tb *table) inFK(col string) bool {
	return slices.ContainsFunc(tb.fks, func(f foreignKey) bool { return slices.Contains(f.cols, col) })
}

func (tb *table) references(other string) bool {
	return slices.ContainsFunc(tb.fks, func(f foreignKey) bool { return f.ref == other })
}

func (tb *table) keyColumns() []string {
	out := slices.Clone(tb.pk)
	for _, f := range tb.fks {
		out = append(out, f.cols...)
	}
	return out
}

// indexList is every index, unique constraints included, in the doc's form.
func (tb *table) indexList() []string {
	var out []string
	for _, v := range tb.indexes {
		out = append(out, v)
	}
	for name, c := range tb.cols {
		if c.unique {
			out = append(out, "unique ("+name+")")
		}
	}
	sort.Strings(out)
	return out
}

var (
	sqlComment     = regexp.MustCompile(`--[^\n]*`)
	dollarQuoted   = regexp.MustCompile(`(?s)\$\$.*?\$\$`)
	createTable    = regexp.MustCompile(`(?is)^CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*)\)[^)]*$`)
	alterAdd       = regexp.MustCompile(`(?is)^ALTER TABLE (\w+) ADD (?:COLUMN )?(?:IF NOT EXISTS )?(\w+ .*)$`)
	alterDrop      = regexp.MustCompile(`(?is)^ALTER TABLE (\w+) DROP (?:COLUMN )?(?:IF EXISTS )?(\w+)`)
	alterRename    = regexp.MustCompile(`(?is)^ALTER TABLE (\w+) RENAME (?:COLUMN )?(\w+) TO (\w+)$`)
	alterRenameTbl = regexp.MustCompile(`(?is)^ALTER TABLE (\w+) RENAME TO (\w+)$`)
	alterConstr    = regexp.MustCompile(`(?is)^ALTER TABLE \w+ (ADD|DROP) CONSTRAINT`)
	dropFK         = regexp.MustCompile(`(?is)^ALTER TABLE (\w+) DROP CONSTRAINT (\w+_fkey)$`)
	alterStorage   = regexp.MustCompile(`(?is)^ALTER TABLE \w+ (SET|RESET) \(`)
	createIndex    = regexp.MustCompile(`(?is)^CREATE (UNIQUE )?INDEX (?:IF NOT EXISTS )?(\w+) ON (\w+)\s*(\(.*)$`)
	dropIndex      = regexp.MustCompile(`(?is)^DROP INDEX (?:IF EXISTS )?(\w+)$`)
	dropTable      = regexp.MustCompile(`(?is)^DROP TABLE (?:IF EXISTS )?(\w+)$`)
	references     = regexp.MustCompile(`(?i)\bREFERENCES (\w+)`)
	parenList      = regexp.MustCompile(`\(([^)]*)\)`)
)

// readMigrations replays the Up parts of one backend's migrations and
// returns the tables they leave.
func readMigrations(t *testing.T, backend string) map[string]*table {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(migrationsDir, backend, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in %s/%s (%v)", migrationsDir, backend, err)
	}
	sort.Strings(files)
	tables := map[string]*table{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		up, _, _ := strings.Cut(string(src), "-- +goose Down")
		up = sqlComment.ReplaceAllString(up, "")
		up = dollarQuoted.ReplaceAllString(up, "''")
		for _, stmt := range strings.Split(up, ";") {
			stmt = strings.Join(strings.Fields(stmt), " ")
			if err := applyStatement(tables, stmt); err != "" {
				t.Errorf("%s: %s: %q", filepath.Base(f), err, stmt)
			}
		}
	}
	return tables
}

// applyStatement changes tables as stmt would; statements that change no
// table or column (triggers, functions, checks) are passed over.
func applyStatement(tables map[string]*table, stmt string) string {
	get := func(name string) *table { return tables[strings.ToLower(name)] }
	if m := createTable.FindStringSubmatch(stmt); m != nil {
		tb := &table{name: strings.ToLower(m[1]), cols: map[string]*column{}, indexes: map[string]string{}}
		for _, item := range splitTopLevel(m[2]) {
			tb.addItem(item)
		}
		tables[tb.name] = tb
		return ""
	}
	if m := dropFK.FindStringSubmatch(stmt); m != nil {
		// PostgreSQL names a foreign key table_column_fkey.
		tb := get(m[1])
		if tb == nil {
			return "no such table"
		}
		n := len(tb.fks)
		tb.fks = slices.DeleteFunc(tb.fks, func(f foreignKey) bool {
			return strings.EqualFold(tb.name+"_"+strings.Join(f.cols, "_")+"_fkey", m[2])
		})
		if len(tb.fks) == n {
			return "no such foreign key"
		}
		return ""
	}
	if alterStorage.MatchString(stmt) {
		return "" // fill factors: no column, key or index
	}
	if m := alterConstr.FindStringSubmatch(stmt); m != nil {
		if strings.Contains(strings.ToUpper(stmt), "KEY") || strings.Contains(strings.ToUpper(stmt), "UNIQUE") {
			return "a key constraint added by ALTER TABLE is not understood here; add it to the reader"
		}
		return ""
	}
	for _, re := range []*regexp.Regexp{alterRenameTbl, alterRename, alterDrop, alterAdd, createIndex, dropIndex, dropTable} {
		m := re.FindStringSubmatch(stmt)
		if m == nil {
			continue
		}
		switch re {
		case alterRenameTbl:
			tb := get(m[1])
			if tb == nil {
				return "no such table"
			}
			delete(tables, tb.name)
			tb.name = strings.ToLower(m[2])
			tables[tb.name] = tb
		case alterRename:
			tb := get(m[1])
			if tb == nil || tb.cols[m[2]] == nil {
				return "no such column"
			}
			tb.cols[m[3]] = tb.cols[m[2]]
			delete(tb.cols, m[2])
		case alterDrop:
			tb := get(m[1])
			if tb == nil || tb.cols[m[2]] == nil {
				return "no such column"
			}
			delete(tb.cols, m[2])
		case alterAdd:
			tb := get(m[1])
			if tb == nil {
				return "no such table"
			}
			tb.addItem(m[2])
		case createIndex:
			tb := get(m[3])
			if tb == nil {
				return "no such table"
			}
			def := normalizeSQL(m[4])
			if m[1] != "" {
				def = "unique " + def
			}
			tb.indexes[m[2]] = def
		case dropIndex:
			for _, tb := range tables {
				delete(tb.indexes, m[1])
			}
		case dropTable:
			delete(tables, strings.ToLower(m[1]))
		}
		return ""
	}
	upper := strings.ToUpper(stmt)
	if strings.HasPrefix(upper, "CREATE TABLE") || strings.HasPrefix(upper, "ALTER TABLE") || strings.HasPrefix(upper, "CREATE INDEX") || strings.HasPrefix(upper, "CREATE UNIQUE INDEX") {
		return "a statement the migration reader does not understand; teach it"
	}
	return ""
}

// addItem adds one item of a CREATE TABLE body, or the column of an ALTER
// TABLE ADD: a column definition or a table constraint.
func (tb *table) addItem(item string) {
	upper := strings.ToUpper(item)
	if strings.HasPrefix(upper, "CONSTRAINT ") {
		f := strings.SplitN(item, " ", 3)
		if len(f) < 3 {
			return
		}
		item, upper = f[2], strings.ToUpper(f[2])
	}
	list := func(s string) []string {
		m := parenList.FindStringSubmatch(s)
		if m == nil {
			return nil
		}
		var out []string
		for _, c := range strings.Split(m[1], ",") {
			out = append(out, strings.TrimSpace(c))
		}
		return out
	}
	switch {
	case strings.HasPrefix(upper, "PRIMARY KEY"):
		tb.pk = list(item)
	case strings.HasPrefix(upper, "FOREIGN KEY"):
		if m := references.FindStringSubmatch(item); m != nil {
			tb.fks = append(tb.fks, foreignKey{cols: list(item), ref: strings.ToLower(m[1])})
		}
	case strings.HasPrefix(upper, "UNIQUE"):
		tb.indexes["unique:"+item] = "unique (" + strings.Join(list(item), ", ") + ")"
	case strings.HasPrefix(upper, "CHECK"):
	default:
		f := strings.Fields(item)
		if len(f) < 2 {
			return
		}
		name := f[0]
		c := &column{typ: strings.ToLower(f[1])}
		rest := " " + strings.ToUpper(strings.Join(f[2:], " ")) + " "
		if strings.Contains(rest, " PRIMARY KEY ") {
			tb.pk = []string{name}
		}
		c.unique = strings.Contains(rest, " UNIQUE ")
		if m := references.FindStringSubmatch(item); m != nil {
			tb.fks = append(tb.fks, foreignKey{cols: []string{name}, ref: strings.ToLower(m[1])})
		}
		tb.cols[name] = c
	}
}

// splitTopLevel splits a CREATE TABLE body at the commas outside
// parentheses.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// normalizeSQL makes an index definition comparable: one space between
// words, none inside parentheses.
func normalizeSQL(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "( ", "(")
	return strings.ReplaceAll(s, " )", ")")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func union(a, b []string) []string {
	return slices.Compact(sorted(append(slices.Clone(a), b...)))
}
