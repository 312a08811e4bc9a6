/*
 * mero-tee verifier page: plain script, no build step, no external resources.
 * Every value that comes from the server (and so, ultimately, from the
 * attested machine) is written with textContent or as an attribute value,
 * never parsed as HTML.
 */
'use strict';

(function () {
  var API = 'api/verify';
  var KINDS = ['kms', 'node', 'paste'];

  var CHECK_TITLES = {
    quote: 'Quote signature',
    tcb: 'TCB status',
    nonce: 'Nonce binding',
    event_log: 'Event log replay (RTMRs)',
    compose_hash: 'Compose hash',
    app_id: 'App id',
    compose_policy: 'Compose hash against the release',
    measurements: 'Measurements against the release',
    profile: 'Profile',
    release: 'Release signature',
    ita: 'Intel Trust Authority'
  };
  var CHECK_HELP = {
    quote: 'The quote\u2019s signature chain verifies against Intel\u2019s root with current collateral.',
    tcb: 'The platform\u2019s TCB level and the advisories that apply to it.',
    nonce: 'The verifier\u2019s fresh nonce is in the quote\u2019s own report data, so the quote is not a replay.',
    event_log: 'Each event\u2019s digest is recomputed and the log replayed; the result must equal the RTMRs in the quote.',
    compose_hash: 'The compose hash read from the replayed, verified event log.',
    app_id: 'The app id read from the replayed, verified event log.',
    compose_policy: 'The compose hash from the verified event log is in the release policy\u2019s allowlist for the profile.',
    measurements: 'MRTD and RTMR0\u20133 from the quote compared with the release\u2019s allowlists, per profile.',
    profile: 'Which profile\u2019s allowlists the measurements match.',
    release: 'The release documents are verified (checksums, signatures) before they are used; the card says whether the signatures were verified.',
    ita: 'Optional appraisal by Intel Trust Authority, its token verified and compared with the local result.'
  };

  /* ---- DOM helpers: text only ---- */

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    var k, i;
    if (attrs) {
      for (k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] == null) continue;
        if (k === 'text') e.textContent = String(attrs[k]);
        else if (k === 'className') e.className = attrs[k];
        else e.setAttribute(k, String(attrs[k]));
      }
    }
    if (children) {
      for (i = 0; i < children.length; i++) {
        if (children[i] == null) continue;
        e.appendChild(typeof children[i] === 'string' ? document.createTextNode(children[i]) : children[i]);
      }
    }
    return e;
  }

  function $(id) { return document.getElementById(id); }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function isHexish(s) {
    return typeof s === 'string' && s.length >= 16 && /^(0x)?[0-9a-fA-F]+$/.test(s);
  }

  /* A value as DOM: strings (hex in monospace), numbers, booleans, arrays, objects. */
  function valueNode(v, depth) {
    depth = depth || 0;
    if (v === null || v === undefined) return el('span', { className: 'muted', text: '\u2014' });
    if (typeof v === 'boolean') return el('span', { className: v ? 'yes' : 'no', text: v ? 'yes' : 'no' });
    if (typeof v === 'number') return el('span', { text: String(v) });
    if (typeof v === 'string') {
      return el(isHexish(v) ? 'code' : 'span', { className: isHexish(v) ? 'hex' : null, text: v });
    }
    if (Array.isArray(v)) {
      if (v.length === 0) return el('span', { className: 'muted', text: '(none)' });
      if (depth > 3) return el('code', { text: JSON.stringify(v) });
      return el('ul', { className: 'vlist' }, v.map(function (x) { return el('li', null, [valueNode(x, depth + 1)]); }));
    }
    if (typeof v === 'object') {
      if (depth > 3) return el('code', { text: JSON.stringify(v) });
      return kvTable(v, depth + 1);
    }
    return el('span', { text: String(v) });
  }

  function kvTable(obj, depth) {
    var rows = [];
    Object.keys(obj).forEach(function (k) {
      rows.push(el('tr', null, [el('th', { scope: 'row', text: k }), el('td', null, [valueNode(obj[k], depth)])]));
    });
    if (rows.length === 0) return el('span', { className: 'muted', text: '(none)' });
    return el('table', { className: 'kv' }, [el('tbody', null, rows)]);
  }

  function badge(status) {
    var s = status === 'pass' || status === 'fail' || status === 'skipped' ? status : 'unknown';
    var label = { pass: '\u2713 pass', fail: '\u2717 fail', skipped: '\u2013 skipped', unknown: '?' }[s];
    return el('span', { className: 'badge badge-' + s, text: label });
  }

  /* ---- tabs and forms ---- */

  function form(kind) { return $('panel-' + kind); }

  function selectTab(kind) {
    KINDS.forEach(function (k) {
      var on = k === kind;
      $('tab-' + k).setAttribute('aria-selected', on ? 'true' : 'false');
      $('tab-' + k).tabIndex = on ? 0 : -1;
      form(k).hidden = !on;
    });
  }

  function field(kind, name) {
    return form(kind).elements.namedItem(name);
  }

  function requestFor(kind) {
    var body = {};
    var tag = field(kind, 'release_tag').value.trim();
    var profile = field(kind, 'profile').value;
    if (kind === 'kms') {
      body.kmsUrl = field(kind, 'kms_url').value.trim();
      if (!body.kmsUrl) throw new Error('Enter the KMS URL.');
    } else if (kind === 'node') {
      body.nodeUrl = field(kind, 'node_url').value.trim();
      if (!body.nodeUrl) throw new Error('Enter the node URL.');
    } else {
      body.quoteB64 = field(kind, 'quote_b64').value.replace(/\s+/g, '');
      if (!body.quoteB64) throw new Error('Paste a quote (base64).');
      var log = field(kind, 'event_log').value.trim();
      if (log) {
        try {
          body.eventLog = JSON.parse(log);
        } catch (e) {
          throw new Error('The event log is not valid JSON: ' + e.message);
        }
      }
      var nonce = field(kind, 'nonce_hex').value.trim();
      if (nonce) body.nonceHex = nonce;
    }
    if (tag) body.releaseTag = tag;
    if (profile) body.profile = profile;
    return body;
  }

  /* The link that reruns this verification (KMS and node only: a pasted quote is not shared). */
  function shareLink(kind) {
    var u = new URL(window.location.href);
    var p = new URLSearchParams();
    var tag = field(kind, 'release_tag').value.trim();
    var profile = field(kind, 'profile').value;
    if (kind === 'kms') p.set('kms_url', field(kind, 'kms_url').value.trim());
    else if (kind === 'node') p.set('node_url', field(kind, 'node_url').value.trim());
    else return null;
    if (tag) p.set('release_tag', tag);
    if (profile) p.set('profile', profile);
    u.search = p.toString();
    u.hash = '';
    return u.toString();
  }

  function showShare(kind) {
    var link = shareLink(kind);
    if (!link) {
      $('share').hidden = true;
      return;
    }
    $('share-link').value = link;
    $('share').hidden = false;
    try {
      window.history.replaceState(null, '', link);
    } catch (e) { /* file:// or a sandbox: the link box still works */ }
  }

  /* ---- results ---- */

  function setStatus(text) { $('status').textContent = text || ''; }

  function showError(code, message) {
    var box = $('error');
    clear(box);
    box.appendChild(el('h2', { text: 'Verification could not run' }));
    box.appendChild(el('p', null, [
      code ? el('code', { className: 'errcode', text: code }) : null,
      code ? ' ' : null,
      el('span', { className: 'errmsg', text: message || 'unknown error' })
    ]));
    box.hidden = false;
  }

  function eventsTable(events) {
    if (!Array.isArray(events) || events.length === 0) {
      return el('p', { className: 'muted', text: 'No event log.' });
    }
    var rows = events.map(function (ev, i) {
      ev = ev || {};
      var payload = ev.payload == null ? '' : String(ev.payload);
      return el('tr', null, [
        el('td', { 'data-label': '#', text: ev.index != null ? ev.index : i }),
        el('td', { 'data-label': 'IMR', text: ev.imr != null ? ev.imr : '' }),
        el('td', { 'data-label': 'event', text: ev.event != null ? ev.event : '' }),
        el('td', { 'data-label': 'digest' }, [el('code', { className: 'hex', text: ev.digest != null ? ev.digest : '' })]),
        el('td', { 'data-label': 'payload' }, [el('code', { className: 'hex payload', text: payload })])
      ]);
    });
    return el('details', { className: 'events' }, [
      el('summary', { text: events.length + ' events (index, IMR, event, digest, payload)' }),
      el('div', { className: 'scroll' }, [
        el('table', { className: 'grid' }, [
          el('thead', null, [el('tr', null, ['#', 'IMR', 'event', 'digest', 'payload'].map(function (h) {
            return el('th', { scope: 'col', text: h });
          }))]),
          el('tbody', null, rows)
        ])
      ])
    ]);
  }

  function measurementsTable(m) {
    if (!m || typeof m !== 'object') return null;
    var order = ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3', 'reportData', 'tcbStatus', 'advisoryIds'];
    var keys = order.filter(function (k) { return k in m; })
      .concat(Object.keys(m).filter(function (k) { return order.indexOf(k) < 0; }));
    var obj = {};
    keys.forEach(function (k) { obj[k] = m[k]; });
    return kvTable(obj, 1);
  }

  function checkCard(check, resp) {
    var id = String(check.id || '');
    var status = String(check.status || '');
    var card = el('section', {
      className: 'card card-' + (status === 'pass' || status === 'fail' || status === 'skipped' ? status : 'unknown'),
      'data-check': id,
      'data-status': status
    });
    card.appendChild(el('header', { className: 'card-head' }, [
      el('h3', { text: CHECK_TITLES[id] || id }),
      badge(status)
    ]));
    if (CHECK_HELP[id]) card.appendChild(el('p', { className: 'help', text: CHECK_HELP[id] }));
    if (check.detail) card.appendChild(el('p', { className: 'detail', text: String(check.detail) }));
    if (check.evidence && typeof check.evidence === 'object' && Object.keys(check.evidence).length) {
      card.appendChild(el('div', { className: 'evidence' }, [kvTable(check.evidence, 1)]));
    }
    if (id === 'event_log') card.appendChild(eventsTable(resp.events));
    if (id === 'measurements') {
      if (resp.release) {
        card.appendChild(el('div', { className: 'evidence' }, [
          el('h4', { text: 'Release' }), kvTable(resp.release, 1)
        ]));
      }
    }
    return card;
  }

  function render(resp) {
    var out = $('result');
    clear(out);
    // Anything but the three known verdicts is shown as a failure.
    var verdict = resp.verdict === 'pass' || resp.verdict === 'incomplete' ? resp.verdict : 'fail';
    var checks = Array.isArray(resp.checks) ? resp.checks : [];
    var failed = checks.filter(function (c) { return c && c.status === 'fail'; });
    var quoteCheck = checks.filter(function (c) { return c && c.id === 'quote'; })[0];
    var reasons = quoteCheck && quoteCheck.evidence && Array.isArray(quoteCheck.evidence.incomplete)
      ? quoteCheck.evidence.incomplete.map(String) : [];
    var summary = failed.length
      ? failed.length + ' check' + (failed.length > 1 ? 's' : '') + ' failed: ' +
        failed.map(function (c) { return CHECK_TITLES[c.id] || c.id; }).join(', ')
      : verdict === 'incomplete'
        ? 'Nothing failed, but this is not proof: ' + (reasons.length ? reasons.join('; ') : 'see the quote check') + '.'
        : 'Every check that ran passed.';
    var heading = { pass: '\u2713 Verified', incomplete: '\u26a0 Incomplete: not proven', fail: '\u2717 Not verified' }[verdict];
    out.appendChild(el('section', { id: 'verdict', className: 'verdict verdict-' + verdict, 'data-verdict': verdict }, [
      el('h2', { text: heading }),
      el('p', { text: summary })
    ]));
    if (resp.measurements) {
      var unverified = resp.measurements.quoteVerified !== true;
      out.appendChild(el('section', { className: 'card ' + (unverified ? 'card-fail' : 'card-info'), 'data-check': 'quote-measurements' }, [
        el('header', { className: 'card-head' }, [el('h3', { text: unverified ? 'Registers in the quote (UNVERIFIED: the quote did not verify)' : 'Registers in the quote' })]),
        el('div', { className: 'evidence' }, [measurementsTable(resp.measurements)])
      ]));
    }
    var cards = el('div', { className: 'cards' });
    checks.forEach(function (c) { if (c) cards.appendChild(checkCard(c, resp)); });
    out.appendChild(cards);
    if (resp.release === null) {
      out.appendChild(el('p', { className: 'muted', text: 'No release was compared (give a release tag, or configure the server with a release directory).' }));
    }
  }

  var running = false;

  function run(kind) {
    var body;
    if (running) return;
    $('error').hidden = true;
    try {
      body = requestFor(kind);
    } catch (e) {
      showError('invalid_input', e.message);
      return;
    }
    running = true;
    clear($('result'));
    showShare(kind);
    setStatus('Verifying\u2026 (fetching a fresh quote, collateral and the release)');
    Array.prototype.forEach.call(document.querySelectorAll('button.go'), function (b) { b.disabled = true; });
    fetch(API, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      redirect: 'error'
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try {
          data = JSON.parse(text);
        } catch (e) { /* handled below */ }
        if (!data || typeof data !== 'object') {
          throw { code: 'http_' + r.status, message: 'The server answered HTTP ' + r.status + ' without JSON.' };
        }
        if (data.error) {
          throw {
            code: String(data.error.code || 'http_' + r.status),
            message: String(data.error.message || 'HTTP ' + r.status)
          };
        }
        return data;
      });
    }).then(function (data) {
      setStatus('');
      render(data);
    }, function (err) {
      setStatus('');
      if (err && err.code) showError(err.code, err.message);
      else showError('network', 'The verifier could not be reached: ' + (err && err.message ? err.message : String(err)));
    }).then(function () {
      running = false;
      Array.prototype.forEach.call(document.querySelectorAll('button.go'), function (b) { b.disabled = false; });
    });
  }

  /* ---- start ---- */

  function init() {
    KINDS.forEach(function (k) {
      $('tab-' + k).addEventListener('click', function () { selectTab(k); });
      form(k).addEventListener('submit', function (ev) {
        ev.preventDefault();
        run(k);
      });
    });
    $('share-copy').addEventListener('click', function () {
      var input = $('share-link');
      input.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(function () { setStatus('Link copied.'); }, function () {});
      }
    });
    /* Arrow keys move between tabs. */
    $('tab-kms').parentNode.addEventListener('keydown', function (ev) {
      var i = KINDS.indexOf(ev.target.getAttribute('data-tab'));
      if (i < 0 || (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft')) return;
      var next = KINDS[(i + (ev.key === 'ArrowRight' ? 1 : KINDS.length - 1)) % KINDS.length];
      selectTab(next);
      $('tab-' + next).focus();
    });

    var q = new URLSearchParams(window.location.search);
    var kind = q.get('node_url') ? 'node' : q.get('kms_url') ? 'kms' : null;
    if (kind) {
      field(kind, kind === 'kms' ? 'kms_url' : 'node_url').value = q.get(kind === 'kms' ? 'kms_url' : 'node_url');
      if (q.get('release_tag')) field(kind, 'release_tag').value = q.get('release_tag');
      var prof = q.get('profile');
      if (prof && ['locked-read-only', 'debug-read-only', 'debug'].indexOf(prof) >= 0) field(kind, 'profile').value = prof;
      selectTab(kind);
      run(kind);
    } else {
      selectTab('kms');
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
