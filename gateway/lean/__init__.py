"""The lean automatic path's transport (issue 14): an HTTP/1.1 server and an upstream pool on
asyncio Protocols and httptools (llhttp), each as strict as the aiohttp parts they stand in for.

`server.LeanServer` serves one purpose, `POST /soap/provision` (plus `/healthz`), to a handler
`async def handle(request) -> Response`; `pool.UpstreamPool` keeps keep-alive connections to the
information-provision endpoint; `upstream.LeanUpstream` puts the pool behind `Upstream`'s
interface. docs/lean-path.md says what each guarantees and how it was tested.
"""
