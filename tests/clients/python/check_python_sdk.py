"""espomcp --demo through the official Python MCP SDK's ClientSession, over stdio or HTTP.

Run by python_sdk.test.mjs (`make test-clients`) with the SDK pinned in requirements.txt:
the handshake, the tool list, a successful call (which the SDK checks against the tool's
outputSchema), a tool error (an `isError: true` result whose text is the JSON error with its
stable code), a resource, a prompt and a completion. Exits 0 when every check holds; an
assertion names the one that did not.

Usage:
  check_python_sdk.py stdio ESPOMCP_BINARY WORK_DIR   (HOME, config and prompts under WORK_DIR)
  check_python_sdk.py http URL                        (the bearer token in ESPOMCP_HTTP_TOKEN)
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

PATIENCE_SECS = 30


async def over_stdio(binary: str, work_dir: str) -> None:
    env = {
        "HOME": work_dir,
        "XDG_CONFIG_HOME": os.path.join(work_dir, "config"),
        "SERVER_PROMPTS_DIR": os.path.join(work_dir, "prompts"),
    }
    server = StdioServerParameters(command=binary, args=["--demo"], env=env)
    async with stdio_client(server) as (read, write):
        await check(read, write)


async def over_http(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=PATIENCE_SECS) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            await check(read, write)


async def check(read, write) -> None:
    async with ClientSession(read, write, read_timeout_seconds=PATIENCE_SECS) as session:
        initialized = await session.initialize()
        assert initialized.server_info.name == "espomcp", initialized.server_info

        tools = await session.list_tools()
        names = sorted(tool.name for tool in tools.tools)
        assert len(names) == 18 and "search" in names, names
        assert all(tool.output_schema for tool in tools.tools), "a tool has no outputSchema"

        found = await session.call_tool("search", {"entityType": "Account", "limit": 2})
        assert not found.is_error, found
        assert len(found.structured_content["list"]) == 2, found.structured_content
        assert json.loads(found.content[0].text) == found.structured_content

        failed = await session.call_tool("search", {"entityType": "Nope"})
        assert failed.is_error, failed
        error = json.loads(failed.content[0].text)["error"]
        assert error["code"] == "INVALID_ENTITY_TYPE", error

        entity_types = await session.read_resource("espocrm://entity-types")
        listed = json.loads(entity_types.contents[0].text)["entityTypes"]
        assert "Account" in [entity["name"] for entity in listed], listed

        changes = "Apex moved to Negotiation"
        prompt = await session.get_prompt("pipeline-update", {"changes": changes})
        assert any(changes in message.content.text for message in prompt.messages), prompt

        completed = await session.complete(
            types.ResourceTemplateReference(type="ref/resource", uri="espocrm://{entityType}/{id}"),
            {"name": "entityType", "value": "acc"},
        )
        assert "Account" in completed.completion.values, completed


def main() -> int:
    if sys.argv[1:2] == ["stdio"] and len(sys.argv) == 4:
        run = over_stdio(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["http"] and len(sys.argv) == 3:
        run = over_http(sys.argv[2], os.environ["ESPOMCP_HTTP_TOKEN"])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    asyncio.run(asyncio.wait_for(run, PATIENCE_SECS * 4))
    print(f"python sdk over {sys.argv[1]}: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
