package settings

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/contactsync/contactsync/shared/logging"
)

// The page is server-rendered from embedded templates; one stylesheet and
// one small script are served beside it. No build step.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assetVersion is a hash of the static files: their URLs carry it, so a
// browser may cache them for long and still gets new ones after a deploy.
var assetVersion = func() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := staticFS.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// base holds the parsed templates; each handler clones it once per
// language with that language's text functions.
var base = template.Must(template.New("").Funcs(funcs("", nil)).ParseFS(templateFS, "templates/*.html"))

func funcs(lang string, link func(string) string) template.FuncMap {
	return template.FuncMap{
		"t":     func(key string, args ...any) string { return tr(lang, key, args...) },
		"tn":    func(key string, n int64, args ...any) string { return trN(lang, key, n, args...) },
		"link":  link,
		"asset": func(name string) string { return link("/static/" + name + "?v=" + assetVersion) },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"utc":   utc,
	}
}

// templatesFor returns the templates of every language, bound to link.
func templatesFor(link func(string) string) map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, l := range languages {
		t := template.Must(base.Clone())
		out[l.Code] = t.Funcs(funcs(l.Code, link))
	}
	return out
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, code int, lang, name string, data any) {
	var buf bytes.Buffer
	if err := h.tmpl[lang].ExecuteTemplate(&buf, name, data); err != nil {
		logging.FromContext(r.Context()).Error("settings: render", "err", err)
		http.Error(w, tr(lang, "error.render"), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.Header().Set("Vary", "Cookie, Accept-Language")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// static serves the stylesheet and the script.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := staticFS.ReadFile("static/" + path.Base(name))
	if err != nil || name != path.Base(name) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	if r.URL.Query().Get("v") == assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(b)
}
