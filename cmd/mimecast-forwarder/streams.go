package main

import (
	"fmt"
	"strings"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/logs"
)

// streamSel is what MIMECAST_TYPES selects.
type streamSel struct {
	All   bool            // "all": every stream the credentials may read
	SIEM  []string        // canonical SIEM types named (API 2.0 batch; API 1.0: siem-v1 runs)
	V1    bool            // API 1.0 siem-v1 named
	Logs  []logs.Endpoint // log streams named
	CI    []string        // Cloud Integrated streams named
	Named map[string]bool // every stream named explicitly
}

// parseStreams parses MIMECAST_TYPES for api (apiV1 or apiV2).
func parseStreams(csv, api string) (streamSel, error) {
	sel := streamSel{Named: map[string]bool{}}
	if t := strings.ToLower(strings.TrimSpace(csv)); t == "" || t == "all" {
		sel.All = true
		sel.Logs = logs.Endpoints()
		if api == apiV2 {
			sel.CI = api2.CIStreams()
		}
		return sel, nil
	}
	var unknown []string
	for _, part := range strings.Split(csv, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if name == "" {
			continue
		}
		if ep, ok := logs.Lookup(name); ok {
			if !sel.Named[name] {
				sel.Logs = append(sel.Logs, ep)
			}
			sel.Named[name] = true
			continue
		}
		if contains(api2.CIStreams(), name) {
			if api == apiV1 {
				return sel, fmt.Errorf("MIMECAST_TYPES: %s is API 2.0 only (Cloud Integrated)", name)
			}
			if !sel.Named[name] {
				sel.CI = append(sel.CI, name)
			}
			sel.Named[name] = true
			continue
		}
		if name == api1.StreamName {
			if api == apiV2 {
				return sel, fmt.Errorf("MIMECAST_TYPES: %s is the API 1.0 SIEM stream; with API 2.0 name the SIEM types", name)
			}
			sel.V1, sel.Named[name] = true, true
			continue
		}
		if t, ok := mimecast.CanonicalType(name); ok {
			if !contains(sel.SIEM, t) {
				sel.SIEM = append(sel.SIEM, t)
			}
			if api == apiV1 {
				sel.V1, sel.Named[api1.StreamName] = true, true
			} else {
				sel.Named[mimecast.StreamName(t)] = true
			}
			continue
		}
		unknown = append(unknown, fmt.Sprintf("%q", strings.TrimSpace(part)))
	}
	if len(unknown) > 0 {
		return sel, fmt.Errorf("MIMECAST_TYPES: unknown stream(s) %s; valid: all, %s, %s, %s (API 2.0), %s (API 1.0)",
			strings.Join(unknown, ", "), strings.Join(mimecast.Types, ", "), strings.Join(logs.Streams(), ", "),
			strings.Join(api2.CIStreams(), ", "), api1.StreamName)
	}
	if len(sel.Named) == 0 {
		return sel, fmt.Errorf("MIMECAST_TYPES: no stream named")
	}
	return sel, nil
}

// wantsSIEM reports whether the SIEM feed runs.
func (s streamSel) wantsSIEM() bool { return s.All || len(s.SIEM) > 0 || s.V1 }

// strict returns the streams whose refusal is an error: those named
// explicitly, in --once and check; none otherwise.
func (s streamSel) strict(onceOrCheck bool) map[string]bool {
	if !onceOrCheck {
		return nil
	}
	return s.Named
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// allStreams returns every stream name, all true: check reports every
// refusal.
func allStreams() map[string]bool {
	out := map[string]bool{api1.StreamName: true}
	for _, t := range mimecast.Types {
		out[mimecast.StreamName(t)] = true
	}
	for _, n := range append(logs.Streams(), api2.CIStreams()...) {
		out[n] = true
	}
	return out
}
