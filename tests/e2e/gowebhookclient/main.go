// Command gowebhookclient makes the end-to-end tests' webhook calls with Go's own HTTP client,
// configured as kube-apiserver's webhook client is, so that what a webhook sees on the wire
// (ALPN, TLS verification by crypto/x509, connection reuse, bodies in several writes, when a
// request is sent again) is what a cluster would send. The stand-in API server
// (tests/e2e/apiserver.py) drives it through tests/e2e/transport.py.
//
// The client, as kube-apiserver builds it:
//   - k8s.io/apiserver pkg/util/webhook/client.go, ClientManager.hookClientConfig: NextProtos
//     http/1.1 only, ServerName <svc>.<ns>.svc, the caBundle as the CA data, a Dial that sends
//     the service's host:port to the resolved endpoint (here: the route the test passes), one
//     client per client config (HookClient's cache);
//   - k8s.io/client-go transport/cache.go, tlsTransportCache.get: MaxIdleConnsPerHost 25
//     (idleConnsPerHost), TLSHandshakeTimeout 10 s; k8s.io/apimachinery pkg/util/net/http.go,
//     SetOldTransportDefaults: IdleConnTimeout 90 s (http.DefaultTransport's); allowsHTTP2:
//     no h2 when NextProtos excludes it;
//   - k8s.io/client-go transport/transport.go, TLSConfigFor: MinVersion TLS 1.2, and
//     rootCertPool: an empty caBundle means the system roots;
//   - k8s.io/client-go rest/request.go, Request.request and rest/with_retry.go: the same body
//     sent again, at most maxRetries (10) times, when the answer is 429 or >= 500 with an
//     integer Retry-After (checkWait), after sleeping that many seconds within the deadline;
//     when the deadline passes first, the error is the context's (withRetry.Before).
//
// Not modelled: proxies from the environment (kube-apiserver honours HTTPS_PROXY with CIDR
// no-proxy rules), client-go's retry of a GET after a connection reset (no webhook call is a
// GET), egress selection and authentication info (kubeconfig for webhooks).
//
// Protocol: one JSON object per line on stdin, one per line on stdout, answered in any order
// (calls run concurrently) and matched by "id". A call:
//
//	{"id": 1, "op": "call", "host": "svc.ns.svc", "port": 443, "ca_bundle": "<PEM>",
//	 "dial": "127.0.0.1:8443", "method": "POST", "path": "/mutate?timeout=10s",
//	 "body": "<base64 or null>", "timeout_ns": 10000000000, "max_retries": 10}
//
// and its answer, with "error" set (err.Error(), as client-go returns it) when no HTTP answer
// came back:
//
//	{"id": 1, "status": 200, "header": {...}, "body": "<base64>",
//	 "peer_certificate": "<base64 DER>", "error": "", "tries": 1, "new_connections": 1}
//
// {"id": 2, "op": "close_idle"} closes every idle connection (Transport.CloseIdleConnections).
//
// Standard library only, so it builds with the pinned toolchain and nothing downloaded.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type call struct {
	ID         uint64 `json:"id"`
	Op         string `json:"op"`
	Host       string `json:"host"`
	Port       int    `json:"port"`
	CABundle   string `json:"ca_bundle"`
	Dial       string `json:"dial"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Body       []byte `json:"body"`
	TimeoutNS  int64  `json:"timeout_ns"`
	MaxRetries int    `json:"max_retries"`
}

type reply struct {
	ID              uint64      `json:"id"`
	Status          int         `json:"status"`
	Header          http.Header `json:"header"`
	Body            []byte      `json:"body"`
	PeerCertificate []byte      `json:"peer_certificate"`
	Error           string      `json:"error"`
	Tries           int         `json:"tries"`
	NewConnections  int64       `json:"new_connections"`
}

// routes maps a service's host:port to the local address it leads to, as the service resolver
// does for kube-apiserver (ClientManager.hookClientConfig's Dial).
type routes struct {
	mu    sync.Mutex
	table map[string]string
}

func (r *routes) set(hostPort, address string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.table[hostPort] = address
}

func (r *routes) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	target, ok := r.table[addr]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no route to %s in this test cluster", addr)
	}
	var d net.Dialer // client.go: `var d net.Dialer; delegateDialer = d.DialContext`
	return d.DialContext(ctx, network, target)
}

// clients holds one http.Client per client config, as HookClient caches one RESTClient per
// ClientConfig (its JSON without the webhook's name).
type clients struct {
	mu      sync.Mutex
	routes  *routes
	byKey   map[string]*http.Client
	allIdle []*http.Transport
}

func (c *clients) get(host string, port int, caBundle string) (*http.Client, error) {
	key := host + "\x00" + strconv.Itoa(port) + "\x00" + caBundle
	c.mu.Lock()
	defer c.mu.Unlock()
	if client, ok := c.byKey[key]; ok {
		return client, nil
	}
	var roots *x509.CertPool
	if caBundle != "" {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(caBundle)) {
			return nil, errors.New("unable to load root certificates: unable to parse bytes as PEM block")
		}
	}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    roots,
			ServerName: host,
			NextProtos: []string{"http/1.1"},
		},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 25,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         c.routes.dial,
	}
	client := &http.Client{Transport: transport}
	c.byKey[key] = client
	c.allIdle = append(c.allIdle, transport)
	return client, nil
}

func (c *clients) closeIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, transport := range c.allIdle {
		transport.CloseIdleConnections()
	}
}

// retryAfter is client-go's checkWait: 429 or >= 500 with an integer Retry-After.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return 0, false
	}
	seconds, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil {
		return 0, false
	}
	return time.Duration(seconds) * time.Second, true
}

func do(c *clients, routes *routes, in call) (out reply) {
	out.ID = in.ID
	hostPort := net.JoinHostPort(in.Host, strconv.Itoa(in.Port))
	routes.set(hostPort, in.Dial)
	client, err := c.get(in.Host, in.Port, in.CABundle)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	// One deadline for the whole call, retries included: the dispatcher's context.WithTimeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(in.TimeoutNS))
	defer cancel()
	var fresh atomic.Int64
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if !info.Reused {
				fresh.Add(1)
			}
		},
	})
	defer func() { out.NewConnections = fresh.Load() }()
	url := "https://" + hostPort + in.Path
	for {
		if err := ctx.Err(); err != nil {
			out.Error = err.Error()
			return out
		}
		var body io.Reader
		if in.Body != nil {
			body = bytes.NewReader(in.Body) // sets GetBody, as client-go's newHTTPRequest does
		}
		req, err := http.NewRequestWithContext(ctx, in.Method, url, body)
		if err != nil {
			out.Error = err.Error()
			return out
		}
		// client-go rest/request.go setAcceptHeader (ContentType application/json); k8s.io/
		// apiserver pkg/util/webhook/authentication.go setGlobalDefaults (UserAgent).
		req.Header.Set("Accept", "application/json, */*")
		if in.Body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", "kube-apiserver-admission")
		out.Tries++
		resp, err := client.Do(req)
		if err != nil {
			out.Error = err.Error()
			return out
		}
		if wait, ok := retryAfter(resp); ok && out.Tries <= in.MaxRetries {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
			}
			continue
		}
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			// rest/request.go transformResponse
			out.Error = "unexpected error when reading response body. Please retry. Original error: " + err.Error()
			return out
		}
		out.Status, out.Header, out.Body = resp.StatusCode, resp.Header, data
		if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
			out.PeerCertificate = resp.TLS.PeerCertificates[0].Raw
		}
		return out
	}
}

func main() {
	routes := &routes{table: map[string]string{}}
	c := &clients{routes: routes, byKey: map[string]*http.Client{}}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	stdout := bufio.NewWriter(os.Stdout)
	var writeMu sync.Mutex
	write := func(r reply) {
		line, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		writeMu.Lock()
		defer writeMu.Unlock()
		_, _ = stdout.Write(append(line, '\n'))
		_ = stdout.Flush()
	}
	var inFlight sync.WaitGroup
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var request call
			if jsonErr := json.Unmarshal(line, &request); jsonErr != nil {
				fmt.Fprintf(os.Stderr, "gowebhookclient: bad request line: %v\n", jsonErr)
				os.Exit(2)
			}
			switch request.Op {
			case "close_idle":
				c.closeIdle()
				write(reply{ID: request.ID})
			case "call":
				inFlight.Add(1)
				go func() {
					defer inFlight.Done()
					write(do(c, routes, request))
				}()
			default:
				fmt.Fprintf(os.Stderr, "gowebhookclient: unknown op %q\n", request.Op)
				os.Exit(2)
			}
		}
		if err != nil {
			break // stdin closed: the tests are done with this client
		}
	}
	inFlight.Wait()
}
