package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pageWeight is what a browser downloads for one page with an empty cache: the bytes on the
// wire (headers included, as Chromium's encodedDataLength counts them) per resource type.
type pageWeight struct {
	URL      string           `json:"-"`
	Heading  string           `json:"heading"`
	Bytes    map[string]int64 `json:"bytes_by_type"`
	Total    int64            `json:"total_bytes"`
	Requests int              `json:"requests"`
	// Other lists the URLs of requests of any other type, such as the favicon.
	Other []string `json:"other_urls,omitempty"`
	// BlockingScripts counts scripts that block rendering: external ones Chromium marks
	// render- or parser-blocking, and inline or external scripts without async, defer or
	// type=module found in the document.
	BlockingScripts int `json:"render_blocking_scripts"`
}

// weighedTypes are the resource types reported by name; anything else counts as "other".
var weighedTypes = map[network.ResourceType]string{
	network.ResourceTypeDocument:   "document",
	network.ResourceTypeStylesheet: "stylesheet",
	network.ResourceTypeScript:     "script",
	network.ResourceTypeImage:      "image",
	network.ResourceTypeFont:       "font",
}

type namedURL struct{ name, url string }

// measurePages loads each URL as a first visit, in a tab of its own browser context (no
// cookies, no cache) of one headless Chromium, and sums encodedDataLength of every finished
// request by resource type.
func measurePages(chromium, dir string, urls []namedURL) (map[string]pageWeight, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(390, 844), // a phone's viewport
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // start the browser without a deadline
		return nil, fmt.Errorf("starting Chromium: %w", err)
	}
	out := map[string]pageWeight{}
	for _, u := range urls {
		w, err := weigh(browserCtx, u.url)
		if err != nil {
			return nil, fmt.Errorf("%s page: %w", u.name, err)
		}
		out[u.name] = w
	}
	return out, nil
}

func weigh(browserCtx context.Context, u string) (pageWeight, error) {
	type request struct {
		url      string
		typ      network.ResourceType
		blocking bool
		done     bool
	}
	var mu sync.Mutex
	reqs := map[network.RequestID]*request{}
	w := pageWeight{URL: u, Bytes: map[string]int64{"other": 0}}
	for _, name := range weighedTypes {
		w.Bytes[name] = 0
	}
	last := time.Now()
	listen := func(ev any) {
		// This runs in the tab's event loop: record and return.
		mu.Lock()
		defer mu.Unlock()
		last = time.Now()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			r := reqs[ev.RequestID]
			if r == nil {
				r = &request{}
				reqs[ev.RequestID] = r
			}
			r.typ, r.url = ev.Type, ev.Request.URL
			r.blocking = ev.RenderBlockingBehavior == network.RenderBlockingBehaviorBlocking ||
				ev.RenderBlockingBehavior == network.RenderBlockingBehaviorInBodyParserBlocking
		case *network.EventResponseReceived:
			if r := reqs[ev.RequestID]; r != nil && ev.Type != "" {
				r.typ = ev.Type
			}
		case *network.EventLoadingFinished:
			r := reqs[ev.RequestID]
			if r == nil {
				return
			}
			r.done = true
			name, ok := weighedTypes[r.typ]
			if !ok {
				name = "other"
				w.Other = append(w.Other, r.url)
			}
			w.Bytes[name] += int64(ev.EncodedDataLength)
			w.Total += int64(ev.EncodedDataLength)
			w.Requests++
			if r.typ == network.ResourceTypeScript && r.blocking {
				w.BlockingScripts++
			}
		case *network.EventLoadingFailed:
			if r := reqs[ev.RequestID]; r != nil {
				r.done = true
			}
		}
	}
	tab, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(listen))
	defer cancelTab()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	noCache := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	})
	if err := chromedp.Do(ctx, noCache, chromedp.Navigate(u)); err != nil {
		return w, err
	}
	// The load event has fired; wait (at most two seconds) until every request has ended
	// and the network has been quiet for 100 ms.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		mu.Lock()
		pending := 0
		for _, r := range reqs {
			if !r.done {
				pending++
			}
		}
		quiet := time.Since(last) > 100*time.Millisecond
		mu.Unlock()
		if pending == 0 && quiet {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	h, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		return w, err
	}
	blocking, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`Array.from(document.scripts).filter(s => !s.async && !s.defer && s.type !== "module").length`))
	if err != nil {
		return w, err
	}
	mu.Lock()
	defer mu.Unlock()
	w.Heading = h
	w.BlockingScripts = max(w.BlockingScripts, blocking)
	out := w
	out.Other = slices.Clone(w.Other)
	out.Bytes = map[string]int64{}
	for k, v := range w.Bytes {
		out.Bytes[k] = v
	}
	return out, nil
}
