#!/usr/bin/env python3
"""Every URL a browser (or Outlook) would fetch from an HTML document, without fetching it.

Standard library only: html.parser for the markup, regular expressions for CSS url(),
image-set() and @import after CSS comments and escapes are undone. cid: and #fragment
references are not fetches and are not reported; javascript:, vbscript: and data: URLs in a
URL attribute are reported (they run or embed). Outlook renders the content of conditional
comments, so comments are parsed as HTML too.

    html_urls.py FILE|-                     one line per fetch: "<where>\t<url>"; exit 1 if any
    html_urls.py --text FILE|-              the visible text, one word a line
    html_urls.py --check-corpus DIR --cleaner PROG
        runs PROG (stdin -> stdout) over DIR/*.html; fails when a cleaned document still
        fetches something or lost visible text that the original had.
"""

import collections
import html.parser
import os
import re
import subprocess
import sys

# Attributes whose value a browser loads, whatever the element (HTML, SVG, VML, legacy IE).
FETCH_ATTRS = {
    "src", "srcset", "lowsrc", "dynsrc", "poster", "background", "data", "codebase",
    "archive", "code", "classid", "manifest", "ping", "action", "formaction", "icon",
    "imagesrcset", "longdesc", "profile", "datasrc", "srcdoc",
}
# Elements whose href is a link the reader clicks, not a fetch.
LINK_ELEMENTS = {"a", "area"}
# Attributes that take a CSS value in SVG (fill="url(...)").
CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)""", re.I)
CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
CSS_IMAGE_SET = re.compile(r"""(?:-webkit-)?image(?:-set)?\(\s*(?:"([^"]*)"|'([^']*)')""", re.I)
CSS_RUNS = re.compile(r"expression\s*\(|behavior\s*:|-moz-binding|progid:", re.I)
CSS_COMMENT = re.compile(r"/\*.*?(\*/|$)", re.S)
CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})[ \t\r\n\f]?|\\(.)", re.S)
META_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.I)
HIDDEN = {"script", "style", "template", "iframe", "object", "applet", "embed", "title",
          "head", "textarea", "select"}


def css_unescape(text):
    text = CSS_COMMENT.sub("", text)

    def one(m):
        if m.group(1):
            cp = int(m.group(1), 16)
            return chr(cp) if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF else "\ufffd"
        return m.group(2)

    return CSS_ESCAPE.sub(one, text)


def is_fetch(url):
    u = re.sub(r"[\t\r\n]", "", url).strip(" \x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e"
                                          "\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"
                                          "\x1c\x1d\x1e\x1f")
    if not u or u.startswith("#"):
        return False
    return not u.lower().startswith("cid:")


def css_fetches(css):
    found = []
    plain = css_unescape(css)
    for rx in (CSS_URL, CSS_IMPORT, CSS_IMAGE_SET):
        for m in rx.finditer(plain):
            url = next((g for g in m.groups() if g is not None), "")
            if is_fetch(url):
                found.append(url)
    for m in CSS_RUNS.finditer(plain):
        found.append("css-code:" + m.group(0))
    return found


def srcset_urls(value):
    return [c.strip().split()[0] for c in value.split(",") if c.strip()]


class Scanner(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fetches = []  # (where, url)
        self.words = []
        self.stack = []
        self.in_style = 0

    def report(self, where, url):
        self.fetches.append((where, url))

    def handle_starttag(self, tag, attrs):
        self.visit(tag, attrs)
        if tag not in ("img", "br", "hr", "meta", "link", "input", "source", "track", "wbr",
                       "area", "base", "col", "embed", "param", "keygen"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.visit(tag, attrs)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def visit(self, tag, attrs):
        attrs = [(k.lower(), v or "") for k, v in attrs]
        names = dict(attrs)
        if tag == "script":
            self.report("script", names.get("src", "(inline)"))
        if tag == "link":
            self.report("link rel=%s" % names.get("rel", ""), names.get("href", ""))
        if tag == "base" and names.get("href"):
            self.report("base", names["href"])
        if tag == "meta" and names.get("http-equiv", "").lower() == "refresh":
            m = META_REFRESH_URL.search(names.get("content", ""))
            self.report("meta refresh", m.group(1) if m else names.get("content", ""))
        for name, value in attrs:
            if name.startswith("on"):
                self.report("%s %s" % (tag, name), value)
            elif name in ("srcset", "imagesrcset"):
                for u in srcset_urls(value):
                    if is_fetch(u):
                        self.report("%s %s" % (tag, name), u)
            elif name in FETCH_ATTRS:
                if is_fetch(value):
                    self.report("%s %s" % (tag, name), value)
            elif name in ("href", "xlink:href"):
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:")):
                    self.report("%s %s" % (tag, name), value)
                elif tag not in LINK_ELEMENTS and tag not in ("link", "base") and is_fetch(value):
                    self.report("%s %s" % (tag, name), value)
            elif name in ("cite", "usemap"):
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:")):
                    self.report("%s %s" % (tag, name), value)
            elif name == "style" or "url(" in value.lower():
                for u in css_fetches(value):
                    self.report("%s %s" % (tag, name), u)
        if tag in ("iframe", "frame", "object", "embed", "applet", "portal"):
            self.report(tag, names.get("src") or names.get("data") or "(element)")

    def handle_data(self, data):
        top = self.stack[-1] if self.stack else ""
        if top == "style":
            for u in css_fetches(data):
                self.report("style", u)
            return
        if any(t in HIDDEN for t in self.stack):
            return
        self.words.extend(data.split())

    def handle_comment(self, data):
        # Outlook renders <!--[if mso]> ... <![endif]-->; other readers hide it. Both count.
        inner = Scanner()
        inner.feed(data)
        inner.close()
        self.fetches.extend(("comment " + w, u) for w, u in inner.fetches)


def scan(text):
    s = Scanner()
    s.feed(text)
    s.close()
    return s


def check_corpus(directory, cleaner):
    failures = 0
    files = sorted(f for f in os.listdir(directory) if f.endswith(".html"))
    if not files:
        print("no .html files in %s" % directory)
        return 1
    for name in files:
        with open(os.path.join(directory, name), "rb") as f:
            raw = f.read()
        before = scan(raw.decode("utf-8", "replace"))
        if not before.fetches:
            print("%s: the corpus document fetches nothing; it tests nothing" % name)
            failures += 1
        run = subprocess.run([cleaner], input=raw, capture_output=True, timeout=60)
        if run.returncode != 0:
            print("%s: cleaner failed: %s" % (name, run.stderr.decode(errors="replace")))
            failures += 1
            continue
        after = scan(run.stdout.decode("utf-8", "replace"))
        for where, url in after.fetches:
            print("%s: still fetches: %s %s" % (name, where, url))
            failures += 1
        lost = collections.Counter(before.words) - collections.Counter(after.words)
        if lost:
            print("%s: visible text lost: %s" % (name, " ".join(sorted(lost))[:400]))
            failures += 1
        print("%s: %d fetches before, %d after; %s" % (
            name, len(before.fetches), len(after.fetches), run.stderr.decode().strip()))
    return 1 if failures else 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "--check-corpus" and argv[2] == "--cleaner":
        return check_corpus(argv[1], argv[3])
    text_mode = bool(argv) and argv[0] == "--text"
    if text_mode:
        argv = argv[1:]
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    data = sys.stdin.buffer.read() if argv[0] == "-" else open(argv[0], "rb").read()
    s = scan(data.decode("utf-8", "replace"))
    if text_mode:
        print("\n".join(s.words))
        return 0
    for where, url in s.fetches:
        print("%s\t%s" % (where, url))
    return 1 if s.fetches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
