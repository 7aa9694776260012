// The chat page: posts to /chat with Accept: text/event-stream and renders the answer as its
// pieces arrive. Plain DOM, no framework and nothing fetched from outside this server.
"use strict";

(() => {
  const STORAGE_KEY = "newsdesk.conversation";
  // Each conversation opens only with the token /chat returned when it began (or the API
  // key, which this page never holds): kept per conversation id, in this browser only.
  const TOKENS_KEY = "newsdesk.conversation-tokens";
  const TOKEN_HEADER = "X-Conversation-Token";
  const MARKER = /\[(\d+)\]/g;
  const STOP = `[.!?\u2026]+["'\u201d\u2019)]*`; // a full stop and any closing quotes
  const MARKERS = String.raw`(?:\s*\[\d+\])+`;
  // The end of a cited sentence: its marker group then the full stop ("... left [1]." as the
  // extractive reader writes it), or the full stop then the markers ("... left. [1]").
  const CITED_END = new RegExp(`(?:${MARKERS}\\s*${STOP}|${STOP}${MARKERS})(?=\\s|$)`);
  // The end of a sentence with no marker: a full stop, then a space and a capital (or the
  // end), not after an initial or a title ("J. Smith", "Mr. Smith").
  const TITLES = "Mr|Mrs|Ms|Dr|Prof|Gen|Gov|Sen|Rep|Lt|Col|Sgt|Capt|St|Jr|Sr|No";
  const NOT_TITLE = `(?<!\\b(?:[A-Z]|${TITLES}))`;
  const SENTENCE_END = new RegExp(`${NOT_TITLE}${STOP}(?=\\s+["'\u201c\u2018(]?[A-Z0-9]|\\s*$)`);
  // Each answer carries the judge's threshold its sentences were checked against (sentences
  // under it are left out); this is only the fallback for answers stored before it was sent.
  const JUDGE_THRESHOLD = 0.58;
  const HIGH_SUPPORT = 0.85;

  const el = {
    turns: document.getElementById("turns"),
    intro: document.getElementById("intro"),
    composer: document.getElementById("composer"),
    message: document.getElementById("message"),
    send: document.getElementById("send"),
    error: document.getElementById("error"),
    filters: document.getElementById("filters"),
    filtersBox: document.getElementById("filters-box"),
    filtersSummary: document.getElementById("filters-summary"),
    source: document.getElementById("filter-source"),
    after: document.getElementById("filter-after"),
    before: document.getElementById("filter-before"),
    sources: document.getElementById("sources"),
    newConversation: document.getElementById("new-conversation"),
    panel: document.getElementById("passage-panel"),
    panelNumber: document.getElementById("passage-number"),
    panelTitle: document.getElementById("passage-title"),
    panelSource: document.getElementById("passage-source"),
    panelDate: document.getElementById("passage-date"),
    panelText: document.getElementById("passage-text"),
    panelScroll: document.getElementById("passage-scroll"),
    panelLegend: document.getElementById("passage-legend"),
    panelSupport: document.getElementById("passage-support"),
    panelLink: document.getElementById("passage-link"),
    panelClose: document.getElementById("passage-close"),
  };

  const state = {
    conversationId: null,
    tokens: {}, // conversation id -> token, mirrored in localStorage when it is available
    busy: false,
    opener: null, // the marker that opened the passage panel, to return focus to
  };

  // ---- small helpers ------------------------------------------------------------------------

  function make(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") {
        node.setAttribute(key, value);
      } else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  }

  // Only an http(s) address becomes a link: a javascript: or data: url would run in this page.
  function webAddress(url) {
    if (typeof url !== "string") return null;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function showError(text) {
    el.error.textContent = text;
    el.error.hidden = !text;
  }

  function setBusy(busy) {
    state.busy = busy;
    el.send.disabled = busy;
    el.composer.setAttribute("aria-busy", String(busy));
  }

  function scrollToEnd() {
    const last = el.turns.lastElementChild;
    if (last) last.scrollIntoView({ block: "end" });
  }

  function formatDate(iso) {
    if (!iso) return "undated";
    const date = new Date(`${iso}T00:00:00`);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
  }

  // The seed format has no outlet field; its outlet may still be among the article's sources.
  function sourceLabel(citation) {
    if (citation.source) return citation.source;
    const outlet = (citation.sources || []).find((s) => s);
    return outlet || "Unknown source";
  }

  function currentFilters() {
    const filters = {};
    const source = el.source.value.trim();
    if (source) filters.source = source;
    if (el.after.value) filters.published_after = el.after.value;
    if (el.before.value) filters.published_before = el.before.value;
    return Object.keys(filters).length ? filters : null;
  }

  // The summary line says which filters apply, so a closed filter box on a phone still shows
  // why an answer might be missing.
  function describeFilters() {
    const filters = currentFilters();
    const parts = [];
    if (filters && filters.source) parts.push(filters.source);
    if (filters && filters.published_after) parts.push(`from ${filters.published_after}`);
    if (filters && filters.published_before) parts.push(`to ${filters.published_before}`);
    el.filtersSummary.textContent = parts.length ? parts.join(", ") : "all sources, any date";
    el.filtersBox.classList.toggle("active", parts.length > 0);
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
    } catch (_) {
      // not JSON: fall through to the status line
    }
    return `The server answered ${response.status} ${response.statusText}`.trim();
  }

  // ---- rendering a turn ---------------------------------------------------------------------

  function addUserTurn(text) {
    el.intro.hidden = true;
    const item = make("li", { class: "turn user", "data-testid": "user-turn" }, [
      make("p", { class: "bubble", "data-testid": "user-message", text }),
    ]);
    el.turns.append(item);
    return item;
  }

  function addAssistantTurn() {
    el.intro.hidden = true;
    const searched = make("p", { class: "searched", "data-testid": "searched-for", hidden: true });
    const answer = make("div", { class: "answer", "data-testid": "answer" }, [
      make("span", { class: "typing", text: "Searching the news…" }),
    ]);
    const meta = make("div", { class: "answer-meta", "data-testid": "answer-meta", hidden: true });
    const sources = make("ol", { class: "sources", "data-testid": "sources", hidden: true });
    const bubble = make("div", { class: "bubble" }, [searched, answer, meta, sources]);
    // aria-busy holds screen-reader announcements until the streamed answer is complete.
    const item = make(
      "li",
      { class: "turn assistant pending", "data-testid": "assistant-turn", "aria-busy": "true" },
      [bubble],
    );
    const turn = {
      item,
      searched,
      answer,
      meta,
      sources,
      text: "",
      citations: [],
      refused: false,
      support: undefined, // undefined: not known (yet); null: every sentence is a quote
      dropped: [],
    };
    item.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-citation]");
      if (button) openPassage(turn, Number(button.dataset.citation), button);
    });
    el.turns.append(item);
    return turn;
  }

  function setSearched(turn, question) {
    turn.searched.textContent = "";
    turn.searched.append(
      make("span", { class: "searched-label", text: "Searched for: " }),
      make("q", { text: question }),
    );
    turn.searched.hidden = false;
  }

  // Where the direct answer ends: after the first cited sentence, else after the first
  // sentence. While the answer is still streaming, all of it counts until a cited end arrives.
  function directEnd(text, complete) {
    const cited = CITED_END.exec(text);
    if (cited) return cited.index + cited[0].length;
    if (!complete) return text.length;
    const plain = SENTENCE_END.exec(text);
    return plain ? plain.index + plain[0].length : text.length;
  }

  function withMarkers(turn, text) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(MARKER)) {
      if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
      nodes.push(markerButton(turn, Number(match[1])));
      last = match.index + match[0].length;
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    return nodes;
  }

  function renderAnswer(turn, complete = false) {
    const cut = directEnd(turn.text, complete);
    const rest = turn.text.slice(cut).trimStart();
    // The trailing space keeps the two parts apart in the text (copying, screen readers);
    // at the end of the block it takes no room.
    const direct = make(
      "span",
      { class: "direct", "data-testid": "direct-answer" },
      withMarkers(turn, rest ? `${turn.text.slice(0, cut)} ` : turn.text.slice(0, cut)),
    );
    const nodes = [direct];
    if (rest) {
      nodes.push(
        make(
          "span",
          { class: "supporting", "data-testid": "supporting-text" },
          withMarkers(turn, rest),
        ),
      );
    }
    turn.answer.replaceChildren(...nodes);
  }

  function markerButton(turn, number) {
    const citation = turn.citations.find((c) => c.id === number);
    const label = citation ? `Source ${number}: ${citation.title}` : `Source ${number}`;
    return make("button", {
      type: "button",
      class: "cite",
      text: `[${number}]`,
      "data-testid": "citation-marker",
      "data-citation": String(number),
      "aria-label": label,
      title: citation ? citation.title : "",
    });
  }

  function renderSources(turn) {
    turn.sources.replaceChildren(
      ...turn.citations.map((c) =>
        make("li", {}, [
          make(
            "button",
            {
              type: "button",
              class: "source",
              "data-testid": "source-item",
              "data-citation": String(c.id),
              "aria-label": `Read source ${c.id}: ${c.title}`,
            },
            [
              make("span", { class: "source-number", text: `[${c.id}]` }),
              make("span", { class: "source-title", text: c.title || "Untitled" }),
              make("span", {
                class: "source-meta",
                text: `${sourceLabel(c)} · ${formatDate(c.published)}`,
              }),
            ],
          ),
        ]),
      ),
    );
    turn.sources.hidden = turn.citations.length === 0;
  }

  function supportLevel(support, threshold) {
    if (support >= Math.max(HIGH_SUPPORT, threshold)) return "high";
    if (support >= threshold) return "medium";
    return "low";
  }

  // How far the answer can be trusted: quoted word for word, or the judge's score for the
  // weakest sentence a model wrote; and the sentences the judge left out.
  function renderMeta(turn) {
    const nodes = [];
    if (!turn.refused && turn.support === null) {
      nodes.push(
        make("span", {
          class: "support support-quoted",
          "data-testid": "support",
          text: "Quoted from the sources",
          title: "Every sentence of the answer is quoted word for word from a cited passage.",
        }),
      );
    } else if (!turn.refused && typeof turn.support === "number") {
      const threshold = typeof turn.threshold === "number" ? turn.threshold : JUDGE_THRESHOLD;
      const level = supportLevel(turn.support, threshold);
      nodes.push(
        make("span", {
          class: `support support-${level}`,
          "data-testid": "support",
          "data-level": level,
          text: `Support ${turn.support.toFixed(2)} · ${level}`,
          title:
            "How well the cited passages back the weakest sentence the model wrote, " +
            `from 0 to 1, as scored by the faithfulness judge (below ${threshold} ` +
            "a sentence is left out).",
        }),
      );
    }
    const dropped = (turn.dropped || []).filter((s) => s);
    if (dropped.length) {
      const count = dropped.length;
      nodes.push(
        make("details", { class: "dropped", "data-testid": "dropped" }, [
          make("summary", {
            text: `${count} ${count === 1 ? "sentence" : "sentences"} left out as unsupported`,
          }),
          make(
            "ul",
            { class: "dropped-list" },
            dropped.map((sentence) => make("li", { text: sentence })),
          ),
        ]),
      );
    }
    turn.meta.replaceChildren(...nodes);
    turn.meta.hidden = nodes.length === 0;
  }

  function finishTurn(turn) {
    turn.item.classList.remove("pending");
    turn.item.setAttribute("aria-busy", "false");
    if (turn.refused) {
      turn.item.classList.add("refused");
      turn.answer.replaceChildren(
        make("p", { class: "refusal", "data-testid": "refusal", role: "status" }, [
          make("strong", { text: "No answer found. " }),
          document.createTextNode(turn.text),
        ]),
        make("p", {
          class: "refusal-hint",
          text: "Nothing in the indexed news supports an answer. Try other words, or widen the source and date filters.",
        }),
      );
    } else {
      renderAnswer(turn, true);
    }
    renderMeta(turn);
    renderSources(turn);
  }

  function failTurn(turn, text) {
    turn.item.classList.remove("pending");
    turn.item.setAttribute("aria-busy", "false");
    turn.item.classList.add("failed");
    turn.answer.replaceChildren(
      make("p", { class: "turn-error", "data-testid": "turn-error", role: "alert", text }),
    );
  }

  // ---- the passage panel --------------------------------------------------------------------

  function openPassage(turn, number, opener) {
    const citation = turn.citations.find((c) => c.id === number);
    if (!citation) return; // the citations event has not arrived yet
    state.opener = opener;
    el.panelNumber.textContent = `Source [${citation.id}]`;
    el.panelTitle.textContent = citation.title || "Untitled";
    el.panelSource.textContent = sourceLabel(citation);
    el.panelDate.textContent = formatDate(citation.published);
    if (citation.published) el.panelDate.dateTime = citation.published;
    else el.panelDate.removeAttribute("datetime");
    const first = showPassageText(citation.passage || "", citation.highlights);
    el.panelLegend.hidden = !first;
    el.panelSupport.textContent =
      typeof citation.support === "number"
        ? ` · judged support ${citation.support.toFixed(2)}`
        : "";
    const address = webAddress(citation.url);
    if (address) {
      el.panelLink.href = address;
      el.panelLink.hidden = false;
    } else {
      el.panelLink.removeAttribute("href");
      el.panelLink.hidden = true;
    }
    el.panel.hidden = false;
    document.body.classList.add("panel-open");
    el.panelTitle.focus({ preventScroll: true });
    scrollPassageTo(first);
  }

  // The passage as text nodes with <mark>s around the highlighted spans (character offsets
  // into the passage). Article text never goes through innerHTML. Returns the first mark.
  function showPassageText(passage, highlights) {
    const spans = (Array.isArray(highlights) ? highlights : [])
      .filter((span) => Array.isArray(span) && span.length === 2)
      .map(([start, end]) => [Math.max(0, Number(start)), Math.min(passage.length, Number(end))])
      .filter(([start, end]) => Number.isInteger(start) && Number.isInteger(end) && start < end)
      .sort((a, b) => a[0] - b[0]);
    const nodes = [];
    let first = null;
    let last = 0;
    for (const [start, end] of spans) {
      const from = Math.max(start, last); // overlapping spans join the mark before them
      if (from >= end) continue;
      if (from > last) nodes.push(document.createTextNode(passage.slice(last, from)));
      const mark = make("mark", {
        "data-testid": "passage-highlight",
        text: passage.slice(from, end),
      });
      first = first || mark;
      nodes.push(mark);
      last = end;
    }
    if (last < passage.length) nodes.push(document.createTextNode(passage.slice(last)));
    el.panelText.replaceChildren(...nodes);
    return first;
  }

  // Scrolls the panel's own text area (not the page) so the first highlight is in view.
  function scrollPassageTo(mark) {
    const scroller = el.panelScroll;
    scroller.scrollTop = 0;
    if (!mark) return;
    const offset = mark.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    const margin = Math.min(48, scroller.clientHeight / 4);
    scroller.scrollTop = Math.max(0, offset - margin);
  }

  function closePassage() {
    if (el.panel.hidden) return;
    el.panel.hidden = true;
    document.body.classList.remove("panel-open");
    if (state.opener && document.contains(state.opener)) state.opener.focus();
    state.opener = null;
  }

  // ---- talking to the server ----------------------------------------------------------------

  // Server-sent events over a POST body: EventSource only does GET, so parse the stream here.
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const parsed = parseEvent(block);
        if (parsed) yield parsed;
      }
    }
    const tail = parseEvent(buffer);
    if (tail) yield tail;
  }

  function parseEvent(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return null;
    try {
      return { event, data: JSON.parse(data.join("\n")) };
    } catch (_) {
      return { event, data: data.join("\n") };
    }
  }

  async function ask(message) {
    const filters = currentFilters();
    if (filters && filters.published_after && filters.published_before &&
        filters.published_after > filters.published_before) {
      showError("The “From” date must not be later than the “To” date.");
      return;
    }
    showError("");
    setBusy(true);
    addUserTurn(message);
    const turn = addAssistantTurn();
    scrollToEnd();
    let finished = false;
    try {
      const response = await fetch("chat", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/event-stream",
          ...tokenHeader(state.conversationId),
        },
        body: JSON.stringify({ conversation_id: state.conversationId, message, filters }),
      });
      if (!response.ok) {
        const text = await errorText(response);
        if ((response.status === 404 || response.status === 403) && state.conversationId) {
          forgetConversation(true);
          failTurn(turn, "This conversation no longer exists. Start again with a new question.");
        } else {
          failTurn(turn, text);
        }
        return;
      }
      for await (const { event, data } of readEvents(response)) {
        if (event === "meta") {
          rememberConversation(data.conversation_id, data.conversation_token);
          setSearched(turn, data.question);
        } else if (event === "delta") {
          turn.text += data.text;
          renderAnswer(turn);
        } else if (event === "citations") {
          turn.citations = data.citations;
          turn.refused = Boolean(data.refused);
          turn.support = data.support;
          turn.threshold = data.threshold;
          turn.dropped = data.dropped || [];
        } else if (event === "done") {
          finished = true;
          finishTurn(turn);
        } else if (event === "error") {
          finished = true;
          failTurn(turn, data.message || "The answer could not be produced.");
        }
        scrollToEnd();
      }
      if (!finished) failTurn(turn, "The connection closed before the answer was complete.");
    } catch (err) {
      failTurn(turn, `Could not reach the server: ${err.message}`);
    } finally {
      setBusy(false);
      el.message.focus();
    }
  }

  function storedTokens() {
    try {
      const tokens = JSON.parse(localStorage.getItem(TOKENS_KEY) || "{}");
      return tokens && typeof tokens === "object" ? tokens : {};
    } catch (_) {
      return {};
    }
  }

  function tokenHeader(id) {
    const token = id && (state.tokens[id] || storedTokens()[id]);
    return token ? { [TOKEN_HEADER]: token } : {};
  }

  function saveTokens(change) {
    const tokens = { ...storedTokens(), ...state.tokens };
    change(tokens);
    state.tokens = tokens;
    try {
      localStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
    } catch (_) {
      // private mode: the token lives as long as this page
    }
  }

  function rememberConversation(id, token) {
    state.conversationId = id;
    if (token) saveTokens((tokens) => { tokens[id] = token; });
    try {
      localStorage.setItem(STORAGE_KEY, id);
    } catch (_) {
      // private mode: the conversation just won't survive a reload
    }
  }

  // `gone`: the server no longer has it (or no longer opens it to us), so its token goes too.
  function forgetConversation(gone = false) {
    const id = state.conversationId;
    state.conversationId = null;
    if (gone && id) saveTokens((tokens) => { delete tokens[id]; });
    try {
      localStorage.removeItem(STORAGE_KEY);
    } catch (_) {
      // nothing stored
    }
  }

  function startNewConversation() {
    closePassage();
    forgetConversation();
    el.turns.replaceChildren();
    el.intro.hidden = false;
    showError("");
    el.message.value = "";
    autosize();
    el.message.focus();
  }

  // Stored turns keep their citations but not the answer's support: it is the weakest
  // citation's score, or null (quoted) when no citation has one.
  function storedSupport(citations) {
    if (!citations || !citations.length) return undefined;
    const scores = citations.map((c) => c.support).filter((s) => typeof s === "number");
    return scores.length ? Math.min(...scores) : null;
  }

  async function restoreConversation() {
    let id = null;
    try {
      id = localStorage.getItem(STORAGE_KEY);
    } catch (_) {
      return;
    }
    if (!id) return;
    const response = await fetch(`conversations/${encodeURIComponent(id)}`, {
      headers: tokenHeader(id),
    }).catch(() => null);
    if (!response || !response.ok) {
      state.conversationId = id;
      forgetConversation(Boolean(response) && [403, 404].includes(response.status));
      return;
    }
    const conversation = await response.json();
    state.conversationId = conversation.id;
    let question = null;
    for (const stored of conversation.turns) {
      if (stored.role === "user") {
        addUserTurn(stored.text);
        question = stored.question;
      } else {
        const turn = addAssistantTurn();
        if (question) setSearched(turn, question);
        turn.text = stored.text;
        turn.citations = stored.citations;
        turn.refused = stored.refused;
        turn.support = "support" in stored ? stored.support : storedSupport(stored.citations);
        turn.threshold = stored.threshold;
        turn.dropped = stored.dropped || [];
        finishTurn(turn);
      }
    }
  }

  async function loadSources() {
    const response = await fetch("articles?limit=500").catch(() => null);
    if (!response || !response.ok) return;
    const body = await response.json();
    const names = new Set();
    for (const article of body.articles || []) {
      if (article.source) names.add(article.source);
      for (const s of article.sources || []) if (s) names.add(s);
    }
    el.sources.replaceChildren(...[...names].sort().map((name) => make("option", { value: name })));
  }

  // ---- wiring -------------------------------------------------------------------------------

  function autosize() {
    el.message.style.height = "auto";
    el.message.style.height = `${Math.min(el.message.scrollHeight, 200)}px`;
  }

  function submit() {
    const message = el.message.value.trim();
    if (!message || state.busy) return;
    el.message.value = "";
    autosize();
    ask(message);
  }

  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  el.message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  el.message.addEventListener("input", autosize);
  el.filters.addEventListener("submit", (event) => event.preventDefault());
  el.filters.addEventListener("input", describeFilters);
  el.filters.addEventListener("change", describeFilters);
  el.filters.addEventListener("reset", () => setTimeout(describeFilters));
  if (window.matchMedia("(max-width: 720px)").matches) el.filtersBox.open = false;
  el.newConversation.addEventListener("click", startNewConversation);
  el.panelClose.addEventListener("click", closePassage);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePassage();
  });

  restoreConversation().finally(() => el.message.focus());
  loadSources();
})();
