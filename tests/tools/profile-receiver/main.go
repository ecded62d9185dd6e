// profile-receiver: a stand-in for Grafana Pyroscope's and Parca's ingest endpoints
// that takes a request only when it has exactly the documented form, field by field,
// and says why it rejects any other. Tests point oomprof watch --upload at it.
//
//	POST /ingest?name=SERVICE{k=v,...}&from=UNIX&until=UNIX&format=pprof  (Pyroscope)
//	    body: the pprof file; optional header X-Scope-OrgID
//	POST /api/profiles/writeraw                                         (Parca)
//	    body: WriteRawRequest in the proto3 JSON mapping:
//	    {"series":[{"labels":{"labels":[{"name":"__name__","value":...},...]},
//	                "samples":[{"raw_profile":"<base64>"}]}]}
//
// Each accepted profile is saved as DIR/N.pb.gz with its labels in DIR/N.labels
// ("key=value" lines, "format=" first). One log line per request on stdout.
// Only the Go standard library.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	labelName   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	appName     = regexp.MustCompile(`^[a-zA-Z0-9._/-]+$`)
	labelValue  = regexp.MustCompile(`^[a-zA-Z0-9._:/-]+$`)
	required    = []string{"host", "trigger", "capture_status"}
	heapSamples = []string{"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"}
	pyroParams  = map[string]bool{"name": true, "from": true, "until": true, "format": true,
		"sampleRate": true, "spyName": true, "units": true, "aggregationType": true}
)

const maxBody = 64 << 20

type receiver struct {
	dir    string
	tenant string
	mu     sync.Mutex
	n      int
}

// pprofCheck gunzips and walks a profile.proto: it must be gzip, well-formed
// protobuf, with the four heap sample types and at least one sample.
func pprofCheck(gz []byte) error {
	if len(gz) < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
		return errors.New("profile is not gzip-compressed")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("gzip: %v", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 512<<20))
	if err != nil {
		return fmt.Errorf("gzip: %v", err)
	}
	var strs []string
	var types [][2]uint64
	samples := 0
	err = walk(raw, func(field int, wire int, v uint64, b []byte) error {
		switch {
		case field == 1 && wire == 2:
			var vt [2]uint64
			err := walk(b, func(f, w int, v uint64, _ []byte) error {
				if (f == 1 || f == 2) && w == 0 {
					vt[f-1] = v
				}
				return nil
			})
			types = append(types, vt)
			return err
		case field == 2 && wire == 2:
			samples++
		case field == 6 && wire == 2:
			strs = append(strs, string(b))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("profile.proto: %v", err)
	}
	if len(strs) == 0 || strs[0] != "" {
		return errors.New("profile.proto: string_table must start with \"\"")
	}
	var names []string
	for _, t := range types {
		if t[0] >= uint64(len(strs)) || t[1] >= uint64(len(strs)) {
			return errors.New("profile.proto: sample_type index outside string_table")
		}
		names = append(names, strs[t[0]])
	}
	if strings.Join(names, ",") != strings.Join(heapSamples, ",") {
		return fmt.Errorf("sample types %v, want %v", names, heapSamples)
	}
	if samples == 0 {
		return errors.New("profile has no samples")
	}
	return nil
}

// walk calls fn for each field of a protobuf message, checking every length.
func walk(b []byte, fn func(field, wire int, v uint64, sub []byte) error) error {
	for len(b) > 0 {
		key, n := uvarint(b)
		if n <= 0 {
			return errors.New("bad key varint")
		}
		b = b[n:]
		field, wire := int(key>>3), int(key&7)
		var v uint64
		var sub []byte
		switch wire {
		case 0:
			v, n = uvarint(b)
			if n <= 0 {
				return errors.New("bad varint")
			}
			b = b[n:]
		case 1, 5:
			w := 8
			if wire == 5 {
				w = 4
			}
			if len(b) < w {
				return errors.New("truncated fixed field")
			}
			b = b[w:]
		case 2:
			l, n := uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("bad length")
			}
			sub = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("wire type %d", wire)
		}
		if field == 0 {
			return errors.New("field number 0")
		}
		if err := fn(field, wire, v, sub); err != nil {
			return err
		}
	}
	return nil
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func checkLabels(labels map[string]string, extra ...string) error {
	for _, k := range append(required, extra...) {
		if labels[k] == "" {
			return fmt.Errorf("required label %q missing", k)
		}
	}
	return nil
}

// pyroscopeName parses "service{k=v,k2=v2}".
func pyroscopeName(s string) (string, map[string]string, error) {
	open := strings.IndexByte(s, '{')
	if open <= 0 || !strings.HasSuffix(s, "}") {
		return "", nil, fmt.Errorf("name %q is not SERVICE{labels}", s)
	}
	app := s[:open]
	if !appName.MatchString(app) {
		return "", nil, fmt.Errorf("application name %q", app)
	}
	labels := map[string]string{}
	body := s[open+1 : len(s)-1]
	if body != "" {
		for _, kv := range strings.Split(body, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !labelName.MatchString(k) || !labelValue.MatchString(v) {
				return "", nil, fmt.Errorf("label %q", kv)
			}
			if _, dup := labels[k]; dup {
				return "", nil, fmt.Errorf("label %q twice", k)
			}
			labels[k] = v
		}
	}
	return app, labels, nil
}

func unixParam(q url.Values, k string) (int64, error) {
	v, err := strconv.ParseInt(q.Get(k), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a Unix time", k, q.Get(k))
	}
	now := time.Now().Unix()
	if v < 1577836800 || v > now+86400 {
		return 0, fmt.Errorf("%s=%d is not a plausible time", k, v)
	}
	return v, nil
}

func (r *receiver) pyroscope(req *http.Request, body []byte) (map[string]string, []byte, error) {
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("query: %v", err)
	}
	for k, v := range q {
		if !pyroParams[k] {
			return nil, nil, fmt.Errorf("unknown query parameter %q", k)
		}
		if len(v) != 1 {
			return nil, nil, fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
	}
	if q.Get("format") != "pprof" {
		return nil, nil, fmt.Errorf("format=%q, want pprof", q.Get("format"))
	}
	from, err := unixParam(q, "from")
	if err != nil {
		return nil, nil, err
	}
	until, err := unixParam(q, "until")
	if err != nil {
		return nil, nil, err
	}
	if until < from {
		return nil, nil, errors.New("until before from")
	}
	app, labels, err := pyroscopeName(q.Get("name"))
	if err != nil {
		return nil, nil, err
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/octet-stream" {
		return nil, nil, fmt.Errorf("Content-Type %q", ct)
	}
	if r.tenant != "" && req.Header.Get("X-Scope-OrgID") != r.tenant {
		return nil, nil, fmt.Errorf("X-Scope-OrgID %q, want %q", req.Header.Get("X-Scope-OrgID"), r.tenant)
	}
	if err := checkLabels(labels); err != nil {
		return nil, nil, err
	}
	labels["service_name"] = app
	labels["from"] = strconv.FormatInt(from, 10)
	return labels, body, pprofCheck(body)
}

type parcaLabel struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

type parcaRequest struct {
	Tenant string `json:"tenant"`
	Series []struct {
		Labels *struct {
			Labels []parcaLabel `json:"labels"`
		} `json:"labels"`
		Samples []struct {
			RawProfile      *string `json:"raw_profile"`
			RawProfileCamel *string `json:"rawProfile"`
		} `json:"samples"`
	} `json:"series"`
	Normalized bool `json:"normalized"`
}

func (r *receiver) parca(req *http.Request, body []byte) (map[string]string, []byte, error) {
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		return nil, nil, fmt.Errorf("Content-Type %q", ct)
	}
	if req.URL.RawQuery != "" {
		return nil, nil, errors.New("writeraw takes no query")
	}
	var w parcaRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, nil, fmt.Errorf("WriteRawRequest JSON: %v", err)
	}
	if dec.More() {
		return nil, nil, errors.New("data after the JSON object")
	}
	if len(w.Series) != 1 || w.Series[0].Labels == nil || len(w.Series[0].Samples) != 1 {
		return nil, nil, errors.New("want one series with labels and one sample")
	}
	labels := map[string]string{}
	for _, l := range w.Series[0].Labels.Labels {
		if l.Name == nil || l.Value == nil || !labelName.MatchString(*l.Name) && *l.Name != "__name__" {
			return nil, nil, fmt.Errorf("label %v", l)
		}
		if _, dup := labels[*l.Name]; dup {
			return nil, nil, fmt.Errorf("label %q twice", *l.Name)
		}
		labels[*l.Name] = *l.Value
	}
	if err := checkLabels(labels, "__name__", "service_name"); err != nil {
		return nil, nil, err
	}
	s := w.Series[0].Samples[0]
	if (s.RawProfile == nil) == (s.RawProfileCamel == nil) {
		return nil, nil, errors.New("want exactly one of raw_profile, rawProfile")
	}
	b64 := s.RawProfile
	if b64 == nil {
		b64 = s.RawProfileCamel
	}
	prof, err := base64.StdEncoding.Strict().DecodeString(*b64)
	if err != nil {
		return nil, nil, fmt.Errorf("raw_profile is not base64: %v", err)
	}
	return labels, prof, pprofCheck(prof)
}

func (r *receiver) save(format string, labels map[string]string, prof []byte) error {
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var meta strings.Builder
	fmt.Fprintf(&meta, "format=%s\n", format)
	for _, k := range keys {
		fmt.Fprintf(&meta, "%s=%s\n", k, labels[k])
	}
	base := filepath.Join(r.dir, strconv.Itoa(n))
	if err := os.WriteFile(base+".pb.gz", prof, 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".labels", []byte(meta.String()), 0o644)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var labels map[string]string
	var prof []byte
	var err error
	format := ""
	body, rerr := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	switch {
	case rerr != nil || len(body) > maxBody:
		err = errors.New("body unreadable or too large")
	case req.Method != http.MethodPost:
		err = fmt.Errorf("method %s", req.Method)
	case req.URL.Path == "/ingest":
		format = "pyroscope"
		labels, prof, err = r.pyroscope(req, body)
	case req.URL.Path == "/api/profiles/writeraw":
		format = "parca"
		labels, prof, err = r.parca(req, body)
	default:
		err = fmt.Errorf("no endpoint %s", req.URL.Path)
	}
	if err == nil {
		err = r.save(format, labels, prof)
	}
	if err != nil {
		fmt.Printf("rejected %s %s: %v\n", req.Method, req.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Printf("accepted %s %s (%d bytes)\n", format, labels["service_name"], len(prof))
	if format == "parca" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	portFile := flag.String("port-file", "", "write the port here once listening")
	dir := flag.String("dir", ".", "where accepted profiles go")
	tenant := flag.String("tenant", "", "required X-Scope-OrgID for Pyroscope")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintln(os.Stderr, "profile-receiver: listens on loopback addresses only")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile-receiver:", err)
		os.Exit(1)
	}
	if *portFile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		if err := os.WriteFile(*portFile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "profile-receiver:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ready")
	srv := &http.Server{Handler: &receiver{dir: *dir, tenant: *tenant},
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
}
