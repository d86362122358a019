"""The console's message catalog: Japanese first, English available.

Every text the console shows is a key here with both languages; templates call `_(key, **params)`
and the handlers pass keys (never ready-made text). The language is a cookie set by the switch in
the page header; Japanese when it is missing.
"""

from __future__ import annotations

from aiohttp import web

LANGS = ("ja", "en")
LANG_COOKIE = "hogo_lang"

# key: (日本語, English). Parameters in {braces}.
MESSAGES: dict[str, tuple[str, str]] = {
    # frame and navigation
    "nav.label": ("メニュー", "Menu"),
    "nav.queue": ("保留照会", "Held queries"),
    "nav.flags": ("フラグ登録・解除", "Flags"),
    "nav.due": ("更新期限一覧", "Renewals"),
    "nav.audit": ("ブロック・セキュリティ事象", "Blocked attempts and security events"),
    "nav.patterns": ("傾向", "Patterns"),
    "nav.users": ("職員アカウント", "Staff accounts"),
    "nav.requesters": ("情報照会者", "Requesters"),
    "nav.logout": ("ログアウト", "Log out"),
    "footer.synthetic": (
        "hogo-gateway 職員コンソール — 個人情報は画面本文にのみ表示され、URL・タイトル・ログには残りません。",
        "hogo-gateway staff console — personal data appears only in page bodies, never in URLs, titles or logs.",
    ),
    "action.back_home": ("トップへ戻る", "Back to the start"),
    "yes": ("はい", "yes"),
    "no": ("いいえ", "no"),
    "on": ("設定中", "on"),
    "off": ("解除", "off"),
    # the registrars' attempts (gateway/services/attempts.py)
    "nav.attempts": ("試行の通知", "Attempts"),
    "title.attempts": (
        "保護対象者に関する試行（自課）",
        "Attempts on persons your department protects",
    ),
    "title.attempt": ("試行の内容", "An attempt"),
    "attempts.open_count": ("未確認の試行", "attempts not yet acknowledged"),
    "attempts.lead": (
        "{department}がフラグを設定している方について、ゲートウェイが止めた照会・表示・読取り（新しい順）。",
        "What the gateway stopped about persons {department} holds a flag on, newest first.",
    ),
    "attempts.hint": (
        "確認したら「本人に伝えた」または「把握済み・想定内」として記録してください。記録すると未確認の件数から外れます。",
        "Once you have looked, record it as “the person was told” or “known, expected”: it then leaves the count of open attempts.",
    ),
    "attempts.all": ("すべて", "All"),
    "attempts.open_only": ("未確認のみ（{n}件）", "Not acknowledged ({n})"),
    "attempts.when": ("日時", "When"),
    "attempts.kind": ("試行の種類", "What"),
    "attempts.who": ("照会者・操作", "Requester or operation"),
    "attempts.now": ("現在の状態", "What became of it"),
    "attempts.ack": ("確認", "Acknowledged"),
    "attempts.unacknowledged": ("未確認", "open"),
    "attempts.open_one": ("内容", "Open"),
    "attempts.portal": ("マイナポータル", "the citizen portal"),
    "attempts.empty": ("試行はありません。", "No attempts."),
    "attempt.what": ("止めた内容", "What was stopped"),
    "attempt.operation": ("操作", "Operation"),
    "attempt.reader": ("読み取ろうとした課・業務", "Department and business that read"),
    "attempt.stopped": ("その時の対応", "What the gateway did"),
    "attempt.name_recorded": (
        "氏名の表示は記録されています。",
        "Showing the name has been recorded.",
    ),
    "attempt.no_name": (
        "貴課の登録に氏名がありません。",
        "Your department's registration holds no name.",
    ),
    "attempt.ack_title": ("確認の記録", "Acknowledgement"),
    "attempt.ack_legend": ("対応", "What was done"),
    "attempt.note": ("メモ（任意・暗号化して保存）", "Note (optional, kept sealed)"),
    "attempt.note_hint": (
        "メモは貴課の登録担当者にのみ表示されます。",
        "The note is shown to your department's registrars only.",
    ),
    "attempt.ack_button": ("確認を記録する", "Record it"),
    "attempt.acknowledged": (
        "確認済み：{outcome}（{who}、{at}）",
        "Acknowledged: {outcome} ({who}, {at})",
    ),
    "ack.told": ("本人に伝えた", "the person was told"),
    "ack.expected": ("把握済み・想定内", "known, expected"),
    "ok.attempt_acknowledged": ("確認を記録しました。", "Acknowledgement recorded."),
    "err.attempt_unknown": ("該当する試行はありません。", "No such attempt."),
    "err.attempt_acknowledged": (
        "この試行は確認済みです（{who}）。",
        "This attempt is acknowledged already ({who}).",
    ),
    "err.ack_outcome": ("対応を選んでください。", "Choose what was done."),
    "err.note_too_long": ("メモは{max}文字までです。", "The note is at most {max} characters."),
    "now.held": ("保留中", "held"),
    "now.released": ("提供済（取扱注意）", "released (handle with care)"),
    "now.refused": ("拒否", "refused"),
    "now.provided": ("自動提供済", "answered automatically"),
    "now.received": ("受付中", "received"),
    "now.blocked": ("表示をブロック", "view blocked"),
    "now.filtered": ("記録を非表示", "records hidden"),
    "now.withheld": ("回答を差し止め", "answer withheld"),
    "now.held_for_review": ("確認まで保留", "held for review"),
    "now.review_open": ("確認待ち", "awaiting confirmation"),
    "now.review_confirmed": ("確認済み", "confirmed"),
    "operation.GetSelfInformation": ("自己情報表示", "self-information"),
    "operation.GetProvisionRecords": ("情報提供等記録表示", "provision records"),
    "operation.GetQueryResult": ("結果取得", "result asked for"),
    "operation.SubmitQuery": ("照会依頼（再送）", "query sent again"),
    "operation.flags.read": ("フラグ照会API", "flag API read"),
    # titles (never personal data)
    "title.login": ("ログイン", "Log in"),
    "title.queue": ("保留中の照会（自動応答不可）", "Held queries (no automatic answer)"),
    "title.item": ("保留照会の審査", "Reviewing a held query"),
    "title.flags": (
        "自動応答不可・不開示該当フラグ",
        "No-automatic-answer and non-disclosure flags",
    ),
    "title.due": ("支援措置の更新期限", "Support measures due for renewal"),
    "title.audit": ("ブロック・セキュリティ事象の確認", "Blocked attempts and security events"),
    "title.patterns": ("試行と保留の傾向", "Patterns of attempts and holds"),
    "title.users": ("職員アカウントと権限", "Staff accounts and roles"),
    "title.requesters": ("情報照会者の登録", "Registered requesters"),
    "title.error": ("エラー", "Error"),
    # roles, states, reasons, flags, bases
    "role.registrar": ("登録担当（保有課）", "registrar (holding department)"),
    "role.approver": ("承認担当", "approver"),
    "role.auditor": ("監査担当", "auditor"),
    "role.admin": ("管理者", "admin"),
    "state.received": ("受付中", "received"),
    "state.provided": ("自動提供済", "provided"),
    "state.held": ("保留中", "held"),
    "state.released": ("提供済（取扱注意）", "released (handle with care)"),
    "state.refused": ("提供拒否", "refused"),
    "reason.auto_response_disabled": ("自動応答不可フラグ", "no-automatic-answer flag"),
    "reason.subject_unknown": ("宛名未登録（対象者不明）", "subject not in the directory"),
    "reason.flag_set_in_flight": ("照会処理中にフラグ設定", "flag set while in flight"),
    "reason.interrupted": ("処理中断（再起動等）", "interrupted (restart)"),
    "reason.flagged_after_answer": (
        "回答後にフラグ設定（回答を差し止め）",
        "flagged after the answer (answer withheld)",
    ),
    "reason.subject_changed_after_answer": (
        "回答後に宛名の紐付けが変化（回答を差し止め）",
        "subject resolves elsewhere since the answer (answer withheld)",
    ),
    "flag.ard": ("自動応答不可フラグ", "No automatic answer (自動応答不可)"),
    "flag.nd": ("不開示該当フラグ", "Non-disclosure (不開示該当)"),
    "basis.application": ("本人申出", "the person's application (申出)"),
    "basis.ex-officio": ("職権（設定が明らかに必要）", "ex officio (clearly necessary, 職権)"),
    # ages
    "age.days_hours": ("{d}日{h}時間", "{d} d {h} h"),
    "age.hours_minutes": ("{h}時間{m}分", "{h} h {m} min"),
    "age.minutes": ("{m}分", "{m} min"),
    "age.seconds": ("{s}秒", "{s} s"),
    # login
    "login.login": ("ログインID", "Login"),
    "login.password": ("パスワード", "Password"),
    "login.submit": ("ログイン", "Log in"),
    "login.hint": (
        "連続して失敗するとアカウントは一定時間ロックされます。",
        "After repeated failures the account is locked for a while.",
    ),
    # columns
    "col.id": ("照会ID", "Query id"),
    "col.state": ("状態", "State"),
    "col.held_at": ("保留日時", "Held at"),
    "col.age": ("経過", "Waiting"),
    "col.requester": ("情報照会者", "Requester"),
    "col.processing_number": ("処理通番", "Processing number"),
    "col.affair": ("事務コード", "Affair"),
    "col.procedure": ("事務手続コード", "Procedure"),
    "col.item": ("特定個人情報名コード", "Item"),
    "col.requested_at": ("照会依頼日時", "Requested at"),
    "col.received_at": ("受付日時", "Received at"),
    "col.reason": ("保留理由", "Reason held"),
    "col.claim": ("担当", "Claimed by"),
    "col.requester_nd": ("照会側不開示", "Requester non-disclosure"),
    "col.decided": ("処理", "Decided"),
    "col.at": ("日時", "Time"),
    "col.kind": ("種別", "Kind"),
    "col.actor": ("実行者", "Actor"),
    "col.details": ("詳細", "Details"),
    "col.review": ("確認", "Review"),
    "col.login": ("ログインID", "Login"),
    "col.role": ("権限", "Role"),
    "col.department": ("所属", "Department"),
    "col.status": ("状態", "Status"),
    "col.last_login": ("最終ログイン", "Last login"),
    "col.actions": ("操作", "Actions"),
    "col.org_code": ("機関コード", "Org code"),
    "col.name": ("名称", "Name"),
    "col.added": ("登録", "Added"),
    # the queue
    "queue.lead": (
        "保留中の照会 {n} 件（古い順）。1件ずつ確認し、取扱注意を添えて提供するか、拒否してください。",
        "{n} held queries, oldest first. Judge each one: release it with the handling notice, or refuse it.",
    ),
    "queue.four_eyes_on": (
        "二者承認が有効です：提供には別の承認担当者の確認が必要です。",
        "Four-eyes release is on: a second approver confirms each release.",
    ),
    "queue.empty": ("保留中の照会はありません。", "No held queries."),
    "page.position": (
        "全 {total} 件中 {first}〜{last} 件目",
        "{first}–{last} of {total}",
    ),
    "page.next": ("次へ", "Next"),
    "page.first": ("最初へ", "First page"),
    "queue.flagged_now": ("現在フラグあり・要確認", "flagged now: check"),
    "queue.changed_now": ("宛名の紐付けが変化", "subject now resolves elsewhere"),
    "queue.overdue": ("長期保留", "waiting long"),
    "queue.unknown_requester": ("（未登録の照会者）", "(unregistered requester)"),
    "queue.claimed_by": ("{who} が対応中", "{who} is on it"),
    "queue.proposed_by": ("{who} が提供を起案", "release proposed by {who}"),
    "queue.open": ("審査", "Open"),
    "queue.age_hint": (
        "{age} を超えて保留中の照会は強調表示されます。自動的に提供されることはありません。",
        "Queries held longer than {age} are highlighted. Nothing is ever released by itself.",
    ),
    # one item
    "item.query": ("照会の内容", "The query"),
    "item.person": ("対象者", "The person"),
    "item.name": ("氏名", "Name"),
    "item.person_unknown": (
        "照会の対象者は宛名に登録されていません（対象者を特定できないため保留）。",
        "The subject code is not in the directory (held because the person cannot be established).",
    ),
    "item.flags_now": ("現在のフラグ", "Flags now"),
    "item.subject_now": (
        "対象者は宛名で今引き直した結果です（保留した時点の結果ではありません）。",
        "The person is as the directory resolves the subject now, not as when it was held.",
    ),
    "item.changed_since_hold": (
        "保留した時点とは宛名の紐付けが変わっています（対象者不明だった、または別の人になった）。",
        "The subject resolves to someone else than when it was held (unknown then, or another person).",
    ),
    "item.flagged_now": (
        "現在、この対象者には自動応答不可フラグが設定されています。保留の理由はこのフラグではありません。保有課と内容を確認してから判断してください。",
        "This person now has the no-automatic-answer flag, which is not why the query was held. Check the flag and its holding departments before you decide.",
    ),
    "item.holding_departments": ("フラグを保有する課", "Holding departments"),
    "item.flag_version": ("フラグ記録の版", "Flag record version"),
    "item.seen_hint": (
        "提供は、この画面に表示した内容（対象者とフラグ）のまま変わっていない場合にのみ行われます。",
        "A release goes through only if the person and the flag shown here have not changed since.",
    ),
    "item.no_flag_record": ("フラグの記録なし", "no flag record"),
    "item.flag_department": ("設定した課・業務", "Set by department / business"),
    "item.name_recorded": (
        "氏名はこの画面にのみ表示され、表示したことは記録されます。",
        "The name is shown on this screen only, and showing it is recorded.",
    ),
    "item.claim": ("担当", "Claim"),
    "item.claimed_by": (
        "{who} が対応中（あと約{minutes}分）",
        "{who} is working on it (about {minutes} min left)",
    ),
    "item.unclaimed": ("担当者はいません。", "Nobody is working on it."),
    "item.claim_button": ("この照会を担当する", "Claim this query"),
    "item.unclaim_button": ("担当を外れる", "Give the claim back"),
    "item.release": ("取扱注意を添えて提供", "Release with the handling notice"),
    "item.notice": ("取扱注意の文言", "Handling notice (取扱注意)"),
    "item.notice_hint": (
        "提供時に照会元へ伝えられます。必要に応じて編集してください。",
        "Sent to the requester with the answer; edit it as needed.",
    ),
    "item.release_button": ("提供する", "Release"),
    "item.propose_button": ("提供を起案する（二者承認）", "Propose the release (four-eyes)"),
    "item.proposed_by": (
        "{who} が {at} に提供を起案しました。",
        "{who} proposed the release at {at}.",
    ),
    "item.awaiting_second": (
        "別の承認担当者の確認を待っています。",
        "Waiting for a second approver to confirm.",
    ),
    "item.confirm_button": ("確認して提供する", "Confirm and release"),
    "item.withdraw_button": ("起案を取り下げる", "Withdraw the proposal"),
    "item.refuse": ("提供を拒否", "Refuse"),
    "item.reason": ("拒否の理由", "Reason for refusing"),
    "item.refuse_button": ("拒否する", "Refuse"),
    # flags (registrars)
    "flags.lead": (
        "{department} の記録のみ操作できます。",
        "You act for your own department only: {department}.",
    ),
    "flags.register": ("フラグの登録", "Register flags"),
    "flags.atena_number": ("団体内統合宛名番号", "Atena number (団体内統合宛名番号)"),
    "flags.name": ("氏名", "Name"),
    "flags.business": ("登録業務", "Business"),
    "flags.choose_business": ("登録業務を選んでください", "Choose a registered business"),
    "flags.not_holding": (
        "{department} は別紙1の保有課ではないため、フラグの登録・解除申請はできません。所属の登録を管理者に確認してください。",
        "{department} is not a holding department of annex 1, so it can neither set flags nor ask for releases. Ask an admin to check your department.",
    ),
    "flags.basis": ("根拠", "Basis"),
    "flags.until": ("支援措置の終了日", "Support measure ends"),
    "flags.which": ("対象のフラグ", "Flags"),
    "flags.register_button": ("登録する", "Register"),
    "flags.release": ("フラグ解除の申請", "Request a release"),
    "flags.note": ("備考（申出の内容）", "Note (the application)"),
    "flags.release_hint": (
        "解除は本人の申出による場合のみ。別の職員の確認で解除されます。",
        "Released only on the person's application, once a second person confirms.",
    ),
    "flags.request_button": ("解除を申請する", "Request the release"),
    "flags.pending": ("確認待ちの解除申請", "Release requests awaiting confirmation"),
    "flags.no_pending": ("確認待ちの申請はありません。", "No release requests waiting."),
    "flags.requested_by": ("申請者", "Requested by"),
    "flags.requested_at": ("申請日時", "Requested at"),
    "flags.to_release": ("解除するフラグ", "Flags to release"),
    "flags.stale": (
        "申請後に課のフラグが変更されたため確認できません（取り消して再申請）",
        "your department's flag changed since: cannot be confirmed (cancel and ask again)",
    ),
    "flags.confirm_button": ("確認して解除", "Confirm the release"),
    "flags.cancel_button": ("取り消す", "Cancel"),
    # renewals
    "due.within": ("今後の日数", "Within days"),
    "due.lead": ("{department}：{n} 件", "{department}: {n}"),
    "due.days_left": ("残り日数", "Days left"),
    "due.overdue": ("期限切れ（フラグは設定中）", "overdue (flag still on)"),
    "due.empty": ("該当はありません。", "None due."),
    "due.hint": (
        "期限を過ぎてもフラグは自動では解除されません。本人に支援措置の更新を確認してください。この一覧の表示は記録されます。",
        "A flag is never released by itself, not after its date either: ask the person about renewal. Showing this list is recorded.",
    ),
    # auditors
    "audit.since": ("開始日", "From"),
    "audit.until": ("終了日", "To"),
    "audit.kind": ("種別", "Kind"),
    "audit.all_kinds": ("すべて", "all"),
    "audit.requester": ("情報照会者", "Requester"),
    "audit.all_requesters": ("すべて", "all"),
    "audit.status": ("確認状況", "Review status"),
    "audit.status_all": ("すべて", "all"),
    "audit.status_open": ("未確認", "not reviewed"),
    "audit.status_reviewed": ("確認済", "reviewed"),
    "audit.scope": ("範囲", "Scope"),
    "audit.scope_blocked": ("ブロック・セキュリティ事象", "blocked and security events"),
    "audit.scope_all": ("全事象（職員操作を含む）", "every event (staff actions too)"),
    "audit.filter": ("絞り込む", "Filter"),
    "audit.export": ("CSV出力", "Export CSV"),
    "audit.count": ("{n} 件（新しい順）", "{n} events, newest first"),
    "audit.empty": ("該当する事象はありません。", "No events match."),
    "audit.comment": ("確認コメント", "Review comment"),
    "audit.mark_reviewed": ("確認済にする", "Mark reviewed"),
    "audit.reviewed_by": ("確認：{who}（{at}）", "Reviewed by {who} ({at})"),
    # the auditors' pictures (gateway/staff/pages_patterns.py); dates as the ward writes them
    "date.hint": (
        "例：2026-12-03、2026/12/03、令和8年12月3日",
        "e.g. 2026-12-03, 2026/12/03 or 令和8年12月3日",
    ),
    "patterns.lead": ("{today} 現在（日本時間）。", "As of {today} (Japan time)."),
    "patterns.counting": (
        "集計中です：事象記録を {to} の分まで数えました。このページは数秒ごとに自動で更新されます（初回のみ）。",
        "Still counting: the event log is counted up to {to}. This page reloads itself every few seconds (the first time only).",
    ),
    "patterns.attempt_hint": (
        "「試行」：フラグのある人についての照会の保留、ポータル表示のブロック・非表示、保存済み回答の提供停止、保護対象者の宛名付け替え（拒否・確認待ち）、フラグ照会の拒否。対象者不明などによる保留は含みません。",
        "Attempts: queries held about a flagged person, portal views blocked or filtered, stored answers withheld, a protected person's directory remap (refused or held), flag reads refused. Holds for an unknown subject and the like are not attempts.",
    ),
    "patterns.unit": ("件", " events"),
    "patterns.table": ("数値の表", "The numbers"),
    "patterns.day": ("日", "Day"),
    "patterns.total": ("合計", "Total"),
    "patterns.attempts_title": (
        "試行とブロックされた表示（過去{days}日・日別）",
        "Attempts and blocked views per day (last {days} days)",
    ),
    "patterns.attempts_desc": (
        "{first} から {last} までの試行は計 {n} 件（{parts}）。",
        "{n} attempts from {first} to {last} ({parts}).",
    ),
    "attempt.query_held": ("照会の保留（フラグ）", "query held (flagged)"),
    "attempt.portal_blocked": ("ポータル表示のブロック", "portal view blocked"),
    "attempt.answer_withheld": ("保存済み回答の提供停止", "stored answer withheld"),
    "attempt.remap_refused": (
        "保護対象者の宛名付け替え（拒否・確認待ち）",
        "a protected person's directory remap (refused or held)",
    ),
    "attempt.read_refused": ("フラグ照会の拒否", "flag read refused"),
    # the pattern rules (gateway/rules.py), with the limits the ward set
    "patterns.rules_title": (
        "検知ルールの発火（過去{days}日）",
        "Pattern rules fired (last {days} days)",
    ),
    "patterns.rules_hint": (
        "各ルールは対象者または照会者ごとに期間内1回だけ発火し、セキュリティ事象として記録されます（監査一覧で確認できます）。",
        "Each rule fires once per window per person or requester, as a security event (see the list of events).",
    ),
    "patterns.rule": ("ルール", "Rule"),
    "patterns.rule_fired": ("発火回数", "Times fired"),
    "patterns.rule_last": ("最後に発火した日", "Last fired"),
    "patterns.rule_events": ("事象を見る", "See the events"),
    "rule.requesters": (
        "同じ保護対象者について{days}日以内に{n}以上の照会者から照会",
        "one flagged person asked about by {n} or more requesters within {days} days",
    ),
    "rule.requester_rate": (
        "照会者の保留件数（1日）が通常を超過（過去{rate_days}日の平均＋{k}×標準偏差を超え、かつ{floor}件以上）",
        "a requester's holds of flagged people in a day above its usual (more than the mean + {k} × the deviation of the {rate_days} days before, and at least {floor})",
    ),
    "rule.portal_views": (
        "同じ人のポータル表示が24時間以内に{views}回以上ブロック",
        "{views} or more blocked portal views of one person within 24 hours",
    ),
    "rule.probing": (
        "同じ照会者から対象者不明の保留が24時間以内に{probes}件以上（探索の疑い）",
        "{probes} or more holds of unknown subjects from one requester within 24 hours (probing)",
    ),
    "patterns.requesters_title": (
        "保留の多い情報照会者（過去{days}日）",
        "Requesters with the most holds (last {days} days)",
    ),
    "patterns.requesters_desc": (
        "保留の多い上位 {n} 機関。最多：{top}。",
        "The {n} requesters with the most holds; first: {top}.",
    ),
    "patterns.holds": ("保留", "Holds"),
    "patterns.holds_attempts": ("うちフラグによる保留", "of which flagged"),
    "patterns.holds_other": ("その他の保留", "other holds"),
    "patterns.no_holds": (
        "この期間に保留された照会はありません。",
        "No query was held in this period.",
    ),
    "patterns.ages_title": ("保留中の照会の待ち時間（現在）", "Held queries by age (waiting now)"),
    "patterns.ages_desc": ("現在保留中 {n} 件（{parts}）。", "{n} waiting now ({parts})."),
    "patterns.age": ("待ち時間", "Waiting"),
    "patterns.waiting": ("保留中", "waiting"),
    "patterns.age_lt1": ("1日未満", "< 1 day"),
    "patterns.age_1to3": ("1〜3日", "1–3 days"),
    "patterns.age_3to7": ("3〜7日", "3–7 days"),
    "patterns.age_7to30": ("7〜30日", "7–30 days"),
    "patterns.age_gt30": ("30日以上", "30 days or more"),
    "patterns.weeks_title": (
        "提供（取扱注意）と拒否（週別・過去{n}週）",
        "Releases and refusals per week (last {n} weeks)",
    ),
    "patterns.weeks_desc": (
        "{first} の週から、提供 {released} 件、拒否 {refused} 件。",
        "Since the week of {first}: {released} released, {refused} refused.",
    ),
    "patterns.week_of": ("週（月曜日）", "Week of (Monday)"),
    "patterns.released": ("提供（取扱注意）", "released"),
    "patterns.refused": ("拒否", "refused"),
    # event kinds
    "kind.query.held": ("照会を保留", "query held"),
    "kind.query.answer_withheld": ("回答の再取得を差し止め", "stored answer withheld"),
    "kind.query.release_stale": (
        "提供を中止（表示後に対象者・フラグが変化）",
        "release stopped (facts changed since shown)",
    ),
    "kind.query.refused": ("照会を拒否", "query refused"),
    "kind.query.released": ("照会を提供（取扱注意）", "query released"),
    "kind.security.unknown_requester": ("未登録照会者", "unregistered requester"),
    "kind.security.hostile_input": ("不正な入力", "hostile input"),
    "kind.security.portal_blocked": ("ポータル表示をブロック", "portal view blocked"),
    "kind.security.portal_filtered": ("ポータル記録を非表示", "portal records filtered"),
    "kind.portal.view": ("ポータル表示", "portal view"),
    "kind.security.login_failed": ("ログイン失敗", "failed login"),
    "kind.security.login_locked": ("アカウントロック", "login locked"),
    "kind.security.access_denied": ("権限外の操作", "access denied"),
    "kind.security.csrf_refused": ("CSRF拒否", "CSRF refused"),
    "kind.security.self_approval": ("自己承認の試み", "self-approval attempt"),
    "kind.security.department_mismatch": ("他課の記録への操作", "other department's record"),
    "kind.staff.login": ("ログイン", "login"),
    "kind.staff.logout": ("ログアウト", "logout"),
    "kind.staff.viewed_name": ("氏名の表示", "name shown"),
    "kind.staff.claimed": ("担当", "claimed"),
    "kind.staff.unclaimed": ("担当解除", "claim given back"),
    "kind.staff.release_proposed": ("提供を起案", "release proposed"),
    "kind.staff.release_confirmed": ("提供を確認", "release confirmed"),
    "kind.staff.release_withdrawn": ("起案取下げ", "proposal withdrawn"),
    "kind.staff.user_added": ("アカウント追加", "account added"),
    "kind.staff.user_changed": ("権限変更", "role changed"),
    "kind.staff.user_disabled": ("アカウント停止", "account disabled"),
    "kind.staff.user_enabled": ("アカウント再開", "account enabled"),
    "kind.staff.user_unlocked": ("ロック解除", "account unlocked"),
    "kind.staff.password_set": ("パスワード設定", "password set"),
    "kind.query.provided": ("自動提供", "answered automatically"),
    "kind.query.abandoned": ("照会中断（上流障害）", "query abandoned (upstream failed)"),
    "kind.requester.added": ("照会者登録", "requester added"),
    "kind.requester.removed": ("照会者削除", "requester removed"),
    "kind.requester.granted": ("照会権限の付与", "requester right granted"),
    "kind.requester.revoked": ("照会権限の取消", "requester right revoked"),
    "kind.directory.imported": ("宛名取込", "directory imported"),
    "kind.audit.reviewed": ("確認済登録", "reviewed"),
    "kind.audit.exported": ("CSV出力", "exported"),
    "kind.flag.set": ("フラグ設定", "flag set"),
    "kind.flag.release": ("フラグ解除", "flag released"),
    "kind.flag.release_requested": ("フラグ解除を申請", "flag release requested"),
    "kind.flag.release_cancelled": ("フラグ解除申請を取消", "flag release request cancelled"),
    "kind.flag.release_superseded": ("フラグ解除申請が失効", "flag release request superseded"),
    "kind.flag.read": ("フラグ照会（利用課）", "flag read (using department)"),
    "kind.flag.due_read": ("更新期限一覧の照会", "renewal list read"),
    "kind.flag.imported": ("フラグ一括取込", "flags imported"),
    "kind.flag.reconciled": ("支援措置との突合", "reconciled with the register"),
    "kind.flag.upgraded": (
        "フラグを課ごとの保有に移行",
        "flag record turned into department holds",
    ),
    "kind.department.token_issued": ("利用課トークン発行", "department token issued"),
    "kind.department.token_revoked": ("利用課トークン失効", "department token revoked"),
    "kind.security.flag_read_refused": (
        "目的外のフラグ照会を拒否",
        "flag read outside the annexes refused",
    ),
    "kind.security.api_unauthorized": ("API認証失敗", "API authentication failed"),
    "kind.security.api_bad_input": ("APIへの不正な入力", "bad input to the API"),
    "kind.security.api_rate_limited": ("APIの照会回数超過", "API reads over the limit"),
    "kind.security.requester_identity_mismatch": (
        "証明書と照会者コードの不一致",
        "certificate does not name the requester",
    ),
    "kind.security.requester_not_permitted": (
        "権限外の事務の照会",
        "affair outside the requester's rights",
    ),
    "kind.security.tls_refused": ("TLS接続を拒否", "TLS connection refused"),
    "kind.keyring.registered": ("鍵の登録", "keyring registered"),
    # subjects and persons held for review (quarantine): the directory's remaps, for approvers
    "nav.reviews": ("保留の確認", "Reviews to confirm"),
    "title.reviews": (
        "確認待ち（宛名変更・フラグ状態の不一致：照会を保留中）",
        "Held for review: remaps and flag states to confirm",
    ),
    "reason.subject_remapped": (
        "宛名変更（機関別符号の付け替え）の確認待ち",
        "subject code moved to another person, not yet confirmed",
    ),
    "kind.directory.remapped": ("宛名変更（符号の付け替え）", "subject code remapped"),
    "kind.directory.import_refused": ("宛名取込を拒否", "directory import refused"),
    "kind.directory.remap_refused": (
        "保護対象者の符号の付け替えを拒否",
        "a protected person's remap refused",
    ),
    "kind.attempt.acknowledged": ("試行の確認（保有課）", "attempt acknowledged (department)"),
    "kind.mail.sent": ("保有課への通知メール送信", "mail to a department sent"),
    "kind.mail.dropped": ("通知メールの破棄（宛先なし）", "mail dropped (no mailbox)"),
    "kind.security.pattern_requesters": (
        "検知：同じ保護対象者に複数の照会者",
        "pattern: several requesters asked about one flagged person",
    ),
    "kind.security.pattern_requester_rate": (
        "検知：照会者の保留件数が通常を超過",
        "pattern: a requester's holds above its usual",
    ),
    "kind.security.pattern_portal_views": (
        "検知：同じ人のポータル表示ブロックの繰り返し",
        "pattern: repeated blocked portal views of one person",
    ),
    "kind.security.pattern_probing": (
        "検知：対象者不明の照会の繰り返し（探索）",
        "pattern: many unknown-subject holds (probing)",
    ),
    "kind.quarantine.opened": ("確認まで照会を保留", "held for review"),
    "kind.quarantine.confirmed": ("保留の確認（解除）", "review confirmed"),
    "kind.security.protected_subject_remap": (
        "フラグ対象者の符号の付け替え",
        "remap of a protected person's subject code",
    ),
    "kind.security.directory_import_interrupted": (
        "宛名取込の中断",
        "directory import interrupted",
    ),
    # the check of the flag state and the directory against the trail (gateway/verify)
    "reason.flag_state_mismatch": (
        "フラグの状態が記録（監査証跡・履歴）と一致しない：確認待ち",
        "flag state unlike the trail and history: to be confirmed",
    ),
    "reason.directory_mismatch": (
        "宛名（符号の対応）が正規の取込によらず変更された：確認待ち",
        "directory entry changed outside an import: to be confirmed",
    ),
    "kind.security.flag_state_mismatch": (
        "フラグの状態と記録の不一致",
        "flag state unlike the trail",
    ),
    "kind.security.directory_mismatch": (
        "宛名の不正な変更",
        "directory entry changed outside an import",
    ),
    "kind.verify.started": ("フラグ照合の開始", "flag state check started"),
    "kind.directory.sealed": ("宛名の全件に検証符号", "every directory entry sealed"),
    "kind.flag.repaired": ("フラグ集計の修復", "flag aggregate repaired"),
    "reviews.lead": (
        "確認待ち {n} 件（古い順）。確認されるまで、この符号・対象者についての照会はすべて保留されます。",
        "{n} waiting, oldest first. Until one is confirmed, every query about its subject or person is held.",
    ),
    "reviews.hint": (
        "団体内統合宛名システムで、取込ファイルの該当行の符号が新しい対象者のものであることを確認してから確認してください。取込を行った職員は自分の取込を確認できません。",
        "Confirm only after checking in the addressee system that the code on the import file's line belongs to the new person. Whoever imported it cannot confirm it.",
    ),
    "reviews.empty": ("確認待ちはありません。", "Nothing is waiting for review."),
    "reviews.opened": ("発生", "Opened"),
    "reviews.origin": ("取込・行", "Import, line"),
    "reviews.line": ("{n}行目", "line {n}"),
    "reviews.subject": ("符号（キー）", "Subject (key)"),
    "reviews.old_person": ("変更前の対象者", "Person before"),
    "reviews.new_person": ("変更後の対象者", "Person after"),
    "reviews.note": ("確認の内容（誰に何を確認したか）", "What was checked, with whom"),
    "reviews.confirm_button": ("確認して保留を解く", "Confirm: hold no more"),
    "flagstatus.now": ("フラグ設定中", "flagged"),
    "flagstatus.before": ("フラグ解除済（履歴あり）", "had a flag (released)"),
    "flagstatus.never": ("フラグなし", "never flagged"),
    "ok.review_confirmed": (
        "{id} を確認しました。この件による保留は解かれました。",
        "{id} confirmed: it holds queries no more.",
    ),
    "err.review_unknown": ("その確認待ちはありません。", "No such review."),
    "err.review_not_open": ("この件はすでに確認されています。", "This one is confirmed already."),
    "err.review_same_person": (
        "自分が取込んだ変更を自分で確認することはできません。別の職員が確認します（この操作は記録されました）。",
        "Nobody confirms a change they imported themselves: someone else must (this attempt was recorded).",
    ),
    "err.review_still_differs": (
        "状態がまだ記録と一致しません。通常の操作（フラグの設定・解除、宛名の取込）で正してから確認してください（照合をやり直しました）。",
        "The state still differs from the trail: put it right through the normal commands (flag set or release, directory import) first (the check was run again).",
    ),
    "reviews.found": ("照合で見つかった不一致", "What the check found"),
    "err.review_note": (
        "確認の内容を入力してください（2000文字以内）。",
        "Say what was checked, with whom (at most 2000 characters).",
    ),
    # users
    "users.active": ("有効", "active"),
    "users.disabled": ("停止中", "disabled"),
    "users.locked": ("ロック中", "locked"),
    "users.disable": ("停止", "Disable"),
    "users.enable": ("再開", "Enable"),
    "users.unlock": ("ロック解除", "Unlock"),
    "users.more": ("パスワード・権限", "Password and role"),
    "users.new_password": ("新しいパスワード", "New password"),
    "users.set_password": ("パスワードを設定", "Set password"),
    "users.change_role": ("権限を変更", "Change role"),
    "users.add": ("アカウントの追加", "Add an account"),
    "users.initial_password": ("初期パスワード", "Initial password"),
    "users.add_button": ("追加する", "Add"),
    "users.password_hint": (
        "パスワードは{min}文字以上。パスワードはargon2idで保存されます。",
        "Passwords are at least {min} characters, stored as argon2id hashes.",
    ),
    "users.registrar_hint": (
        "登録者の所属は別紙1の保有課に限ります（候補から選べます）。",
        "A registrar belongs to a holding department of annex 1 (pick one from the list).",
    ),
    # requesters
    "requesters.remove": ("削除", "Remove"),
    "requesters.empty": ("登録された照会者はありません。", "No requesters registered."),
    "requesters.add": ("照会者の登録", "Register a requester"),
    "requesters.add_button": ("登録する", "Register"),
    # outcomes
    "ok.claimed": ("照会 {id} を担当しました。", "You claimed query {id}."),
    "ok.unclaimed": ("照会 {id} の担当を外れました。", "You gave query {id} back."),
    "ok.released": (
        "照会 {id} を取扱注意を添えて提供しました。",
        "Query {id} released with the handling notice.",
    ),
    "ok.proposed": (
        "照会 {id} の提供を起案しました。別の承認担当者の確認を待ちます。",
        "Release of query {id} proposed; a second approver must confirm it.",
    ),
    "ok.withdrawn": ("照会 {id} の起案を取り下げました。", "Proposal for query {id} withdrawn."),
    "ok.refused": ("照会 {id} を拒否しました。", "Query {id} refused."),
    "ok.reviewed": ("事象 {id} を確認済にしました。", "Event {id} marked reviewed."),
    "ok.flags_registered": ("フラグを登録しました。", "Flags registered."),
    "ok.release_requested": (
        "解除を申請しました。別の職員の確認で解除されます。",
        "Release requested; it takes effect once a second person confirms.",
    ),
    "ok.release_confirmed": ("解除を確認しました。", "Release confirmed."),
    "ok.release_cancelled": ("解除申請を取り消しました。", "Release request cancelled."),
    "ok.user_add": ("アカウント {login} を追加しました。", "Account {login} added."),
    "ok.user_disable": ("アカウント {login} を停止しました。", "Account {login} disabled."),
    "ok.user_enable": ("アカウント {login} を再開しました。", "Account {login} enabled."),
    "ok.user_unlock": ("アカウント {login} のロックを解除しました。", "Account {login} unlocked."),
    "ok.user_password": (
        "アカウント {login} のパスワードを設定しました。",
        "Password of {login} set.",
    ),
    "ok.user_role": ("アカウント {login} の権限を変更しました。", "Role of {login} changed."),
    "ok.requester_added": ("照会者 {org} を登録しました。", "Requester {org} registered."),
    "ok.requester_removed": ("照会者 {org} を削除しました。", "Requester {org} removed."),
    # errors
    "err.login_failed": (
        "ログインIDまたはパスワードが違うか、アカウントが停止・ロックされています。",
        "Wrong login or password, or the account is disabled or locked.",
    ),
    "err.denied_role": ("この操作の権限がありません。", "Your role may not do this."),
    "err.denied_csrf": (
        "フォームの有効期限が切れたか、不正な送信です。画面を開き直してください。",
        "The form expired or was not sent from this console. Open the page again.",
    ),
    "err.denied_login": ("ログインしてください。", "Please log in."),
    "err.store": (
        "フラグストアに接続できません。時間をおいて再度お試しください。何も変更されていません。",
        "The flag store cannot be reached. Try again later; nothing was changed.",
    ),
    "err.not_found": ("見つかりません。", "Not found."),
    "err.not_held": ("この照会はすでに保留中ではありません。", "This query is no longer held."),
    "err.taken": ("{who} が対応中です。", "{who} is working on it."),
    "err.not_claimed": ("先にこの照会を担当してください。", "Claim this query first."),
    "err.not_yours": ("担当者ではありません。", "You do not hold this claim."),
    "err.proposed": (
        "{who} がすでに提供を起案しています。",
        "{who} has already proposed a release.",
    ),
    "err.no_proposal": ("確認する起案がありません。", "There is no proposal to confirm."),
    "err.confirming": ("{who} が確認中です。", "{who} is confirming it."),
    "err.same_person": (
        "自分の起案・申請を自分で確認することはできません。",
        "Nobody confirms their own proposal or request.",
    ),
    "err.busy": ("他の職員が提供処理中です。", "Someone else is releasing it right now."),
    "err.upstream": (
        "情報提供元から回答を得られませんでした。何も変更されていません。",
        "The information-provision endpoint did not answer; nothing was changed.",
    ),
    "err.notice_required": ("取扱注意の文言を入力してください。", "A handling notice is required."),
    "err.seen_required": (
        "審査画面を開いてから提供してください（表示した内容が送信されていません）。",
        "Open the item's screen first: the release did not say what was shown.",
    ),
    "err.facts_changed": (
        "表示した後に対象者またはフラグが変わりました。何も提供していません。画面を確認し直してください。",
        "The person or the flag changed since the screen was shown; nothing was released. Look again.",
    ),
    "err.proposal_stale": (
        "起案の後に対象者またはフラグが変わりました。起案者が確認し直し、起案し直す必要があります。",
        "The person or the flag changed since the proposal; its proposer must look again and propose again.",
    ),
    "err.bad_page": ("ページの指定が正しくありません。", "No such page of this list."),
    "err.reason_required": ("拒否の理由を入力してください。", "A reason is required."),
    "err.comment_required": ("確認コメントを入力してください。", "A review comment is required."),
    "err.no_event": ("その事象はありません。", "No such event."),
    "err.filter": ("絞り込み条件が正しくありません。", "Invalid filter."),
    "err.filter_date": (
        "日付は 2026-12-03、2026/12/03 または 令和8年12月3日 の形で指定してください。",
        "Dates are 2026-12-03, 2026/12/03 or 令和8年12月3日.",
    ),
    "err.filter_kind": ("種別の指定が正しくありません。", "Invalid kind."),
    "err.filter_requester": ("機関コードは16桁の数字です。", "An org code is 16 digits."),
    "err.login_format": (
        "ログインIDは英小文字で始まる2〜32文字（英小文字・数字・. _ -）です。",
        "A login is 2–32 characters: lower-case letters, digits, . _ -, starting with a letter.",
    ),
    "err.login_taken": ("そのログインIDは使われています。", "That login is taken."),
    "err.role": ("権限の指定が正しくありません。", "Unknown role."),
    "err.department": (
        "所属を入力してください（40文字以内）。",
        "A department is required (at most 40 characters).",
    ),
    "err.registrar_department": (
        "{department} は別紙1の保有課ではありません。登録者は別紙1の保有課に所属させてください。",
        "{department} is not a holding department of annex 1: a registrar must belong to one "
        "(see hogo-gateway departments list).",
    ),
    "err.password_policy": (
        "パスワードは{min}文字以上で、前後に空白を含めないでください。",
        "A password has at least {min} characters and no surrounding spaces.",
    ),
    "err.no_user": ("そのアカウントはありません。", "No such account."),
    "err.self": (
        "自分自身のアカウントを停止したり権限を変更したりすることはできません。",
        "You cannot disable your own account or change your own role.",
    ),
    "err.requester": (
        "機関コード（16桁）と名称を入力してください。",
        "An org code (16 digits) and a name are required.",
    ),
    "err.flag_rule": (
        "フラグの規則により受け付けられません：{detail}",
        "Refused by the flag rules: {detail}",
    ),
    "err.no_release_request": (
        "あなたの課の解除申請ではありません。",
        "This is not a release request of your department.",
    ),
    # refusals of the flag rules (gateway.flags: FlagRuleError.reason); nothing was changed
    "err.flag.atena_number": (
        "団体内統合宛名番号は15桁の数字です。",
        "An atena number (団体内統合宛名番号) is 15 digits.",
    ),
    "err.flag.name_required": ("氏名を入力してください。", "The person's name is required."),
    "err.flag.name_format": (
        "氏名は改行を含まない{max}文字以内で入力してください。",
        "The name must be one line of at most {max} characters.",
    ),
    "err.flag.basis": (
        "根拠（本人申出または職権）を選んでください。",
        "Choose the basis: the person's application or ex officio.",
    ),
    "err.flag.department_required": (
        "アカウントに所属が登録されていません。管理者に連絡してください。",
        "Your account has no department; ask an admin.",
    ),
    "err.flag.date": (
        "支援措置の終了日は 2026-12-03、2026/12/03 または 令和8年12月3日 の形で入力してください。",
        "The support measure's end is a date: 2026-12-03, 2026/12/03 or 令和8年12月3日.",
    ),
    "err.flag.until_conflict": (
        "終了日の指定と終了日の消去は同時にはできません。",
        "An end date and clearing the end date exclude each other.",
    ),
    "err.flag.no_flag_chosen": ("フラグを1つ以上選んでください。", "Choose at least one flag."),
    "err.flag.application_only": (
        "フラグの解除は本人の申出による場合のみです。",
        "A flag is released only on the person's application (申出).",
    ),
    "err.flag.note_required": (
        "備考（申出の内容）を入力してください。",
        "A note (the person's application) is required.",
    ),
    "err.flag.note_too_long": (
        "備考は{max}文字以内で入力してください。",
        "The note must be at most {max} characters.",
    ),
    "err.flag.actor_required": (
        "操作した職員を特定できません。ログインし直してください。",
        "Who is acting is not known; log in again.",
    ),
    "err.flag.no_flag": (
        "あなたの課はこの方にフラグを設定していません（解除済みです）。",
        "Your department holds no flag of this person now (it was released).",
    ),
    "err.flag.not_on": (
        "解除するよう選んだフラグは、あなたの課ではこの方に設定していません。",
        "None of the flags chosen for release is set by your department for this person.",
    ),
    "err.flag.no_hold": (
        "この方のフラグを保有する課がありません（移行前の記録）。運用担当に連絡してください。",
        "No department holds this person's flags (a record from before department holds): ask the operators.",
    ),
    "err.flag.not_held": (
        "{department} はこの方にフラグを設定していません。",
        "{department} holds no flag of this person now.",
    ),
    "err.flag.several_departments": (
        "複数の課がこの方にフラグを設定しています（{departments}）。解除する課を指定してください。",
        "Several departments hold flags of this person ({departments}): name the one whose flags to release.",
    ),
    "err.flag.not_holder": (
        "あなたの課はこの方のフラグを設定していないため、解除を申請できません。",
        "Your department has not set a flag of this person, so it cannot ask for a release.",
    ),
    "err.flag.not_flagged_here": (
        "あなたの課はこの方のフラグを設定していないため、記録は表示できません（この照会は記録されました）。",
        "Your department has not set a flag of this person, so the record is not shown (this attempt was recorded).",
    ),
    "err.flag.pending": (
        "あなたの課のこの方の解除申請はすでに確認待ちです。",
        "Your department's release request for this person is already waiting for confirmation.",
    ),
    "err.flag.other_department": (
        "あなたの課の解除申請ではありません。",
        "This is not a release request of your department.",
    ),
    "err.flag.unknown": ("その解除申請はありません。", "No such release request."),
    "err.flag.decided": (
        "この解除申請はすでに処理されています（確認済または取消済）。",
        "This release request has already been decided (confirmed or cancelled).",
    ),
    "err.flag.superseded": (
        "申請後にあなたの課のフラグが変更されたため、この申請は無効になりました。何も解除されていません。必要なら改めて申請してください。",
        "Your department's flag changed after the request was made, so the request is void and nothing was released. Ask again if need be.",
    ),
    "err.flag.same_person": (
        "自分の解除申請を自分で確認することはできません。別の職員が確認します（この操作は記録されました）。",
        "Nobody confirms their own release request: someone else must (this attempt was recorded).",
    ),
    "err.flag.window": (
        "日数は0以上で指定してください。",
        "The window is a number of days, 0 or more.",
    ),
    "err.renewal_window": (
        "日数は0〜{max}の整数で指定してください。",
        "The window is a whole number of days, 0 to {max}.",
    ),
    # refusals of annex 1 (gateway.annex: AnnexError.reason)
    "err.annex.department": (
        "{department} は別紙1の保有課ではないため、フラグの登録・解除申請はできません。",
        "{department} is not a holding department of annex 1: it can neither set flags nor ask for releases.",
    ),
    "err.annex.business_required": (
        "{department} の登録業務を選んでください。",
        "Choose one of the registered businesses of {department}.",
    ),
    "err.annex.business_unknown": (
        "選ばれた業務は、別紙1で {department} の登録業務ではありません。",
        "That business is not registered for {department} in annex 1.",
    ),
}


def lang_of(request: web.Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "ja")
    return lang if lang in LANGS else "ja"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "ja"
        self._index = LANGS.index(self.lang)

    def has(self, key: str) -> bool:
        return key in MESSAGES

    def __call__(self, key: str, **params: str) -> str:
        entry = MESSAGES.get(key)
        if entry is None:
            return key
        text = entry[self._index]
        try:
            return text.format(**params) if params else text
        except (KeyError, IndexError):
            return text
