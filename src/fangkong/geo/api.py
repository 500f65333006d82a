from __future__ import annotations

from ninja import Router, Schema

from fangkong.geo.queries import access_children, access_jurisdiction_by_code

router = Router(tags=["jurisdictions"])


class NodeOut(Schema):
    code: str
    name: str
    level: str
    parent_code: str | None


class NodeWithChildren(NodeOut):
    children: list[NodeOut]


def _node(j) -> dict:
    return {"code": j.code, "name": j.name, "level": j.level, "parent_code": j.parent_id}


@router.get("/{code}", response=NodeWithChildren)
def jurisdiction(request, code: str):
    """A node of the tree with its children, if it is inside the caller's jurisdiction."""
    node = access_jurisdiction_by_code(request.user, code)
    return {**_node(node), "children": [_node(c) for c in access_children(request.user, node)]}
