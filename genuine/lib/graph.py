"""Graph algorithms on Spark DataFrames, with graphframes used where its JVM library loads.

The network features need connected components, PageRank, triangles and degrees for graphs with
millions of vertices. graphframes does this in the JVM, but its jars come only from Maven; where they
are absent (as on the machines this project is built on) the DataFrame implementations below compute
the same results, and tests hold them to networkx.

Conventions shared by every function here:
- `vertices` has a string-able column `id`; `edges` has `src`, `dst` and optionally `weight`.
- The graph is the one induced on `vertices`: an edge whose endpoint is not a vertex is ignored, and
  every vertex gets a row in the result (zero counts, null ratios where the value is undefined).
- Iterative algorithms run eagerly (one Spark job or so per step): they persist their state each step,
  checkpoint it every `checkpoint_interval` steps and at the end (genuine/lib/checkpoint.py
  `materialize`), so the query plan and lineage stay short and nothing is left cached; they raise
  `ConvergenceError` rather than return a result that has not converged.

One module of ~420 lines on purpose: connected components, PageRank and the local structure (degrees,
reciprocity, triangles, clustering) share these conventions and the private preparation below (vertex
ids, induced edges, the simple undirected graph, the graphframes switch); split into one module per
algorithm, that preparation would become an API of its own for three callers. What is not a graph
concern (materializing intermediates) lives in genuine/lib/checkpoint.py.
"""

from __future__ import annotations

import logging
from typing import Literal

from graphframes import GraphFrame
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from genuine.core.errors import ConvergenceError, GraphFramesUnavailableError
from genuine.core.session import jvm_class_loads
from genuine.lib.checkpoint import has_checkpoint_dir, materialize
from genuine.lib.ordered import exact_sum, ordered_sum

log = logging.getLogger(__name__)

GRAPHFRAMES_CLASS = "org.graphframes.GraphFramePythonAPI"


def graphframes_available(spark: SparkSession) -> bool:
    """True where the graphframes JVM classes load (jars installed on the cluster or resolved by the session)."""
    return jvm_class_loads(spark, GRAPHFRAMES_CLASS)


def _use_graphframes(df: DataFrame, requested: bool | None) -> bool:
    """None: use graphframes when it loads. True: require it. False: never."""
    if requested is False:
        return False
    available = graphframes_available(df.sparkSession)
    if requested and not available:
        raise GraphFramesUnavailableError(
            f"graphframes requested but JVM class {GRAPHFRAMES_CLASS} does not load: add the graphframes "
            "jar matching this Spark version to the cluster, or let genuine use its DataFrame implementation"
        )
    return available


# --- shared preparation --------------------------------------------------------------------------

def _vertex_ids(vertices: DataFrame) -> DataFrame:
    return vertices.select(F.col("id").cast("string").alias("id")).where(F.col("id").isNotNull()).distinct()


def _induced_edges(ids: DataFrame, edges: DataFrame, weighted: bool = False) -> DataFrame:
    """Edges whose two endpoints are vertices; `weight` (null counts as 0) kept when asked for."""
    cols = [F.col("src").cast("string").alias("src"), F.col("dst").cast("string").alias("dst")]
    if weighted:
        w = F.col("weight").cast("double") if "weight" in edges.columns else F.lit(1.0)
        cols.append(F.coalesce(w, F.lit(0.0)).alias("weight"))
    e = edges.select(*cols).where(F.col("src").isNotNull() & F.col("dst").isNotNull())
    return (e.join(ids.withColumnRenamed("id", "src"), "src", "left_semi")
            .join(ids.withColumnRenamed("id", "dst"), "dst", "left_semi"))


def _simple_undirected(ids: DataFrame, edges: DataFrame) -> DataFrame:
    """Undirected simple graph: one row (a, b) with a < b per connected pair, self loops dropped."""
    e = _induced_edges(ids, edges)
    return (e.where(F.col("src") != F.col("dst"))
            .select(F.least("src", "dst").alias("a"), F.greatest("src", "dst").alias("b"))
            .distinct())


# --- connected components ------------------------------------------------------------------------

def _large_star(e: DataFrame) -> DataFrame:
    """Kiveris et al. 2014: link every larger neighbour of u to the minimum of u's closed neighbourhood.

    A window (one shuffle) rather than groupBy + join (two); duplicates are left to the small star.
    Iterative code here reads its previous state once per step, so the plan grows linearly between
    checkpoints (a self-union or self-join would double it every step).
    """
    both = e.select(F.inline(F.array(F.struct(F.col("src").alias("u"), F.col("dst").alias("v")),
                                      F.struct(F.col("dst").alias("u"), F.col("src").alias("v")))))
    m = F.least(F.col("u"), F.min("v").over(Window.partitionBy("u")))
    return both.select(F.col("v").alias("src"), m.alias("dst"), "u").where(F.col("src") > F.col("u")).drop("u")


def _small_star(e: DataFrame) -> DataFrame:
    """Link u and its smaller neighbours to the minimum of that set."""
    d = e.select(F.greatest("src", "dst").alias("u"), F.least("src", "dst").alias("v"))
    d = d.select("u", "v", F.min("v").over(Window.partitionBy("u")).alias("m"))
    out = d.select(F.explode(F.array("u", "v")).alias("src"), "m").select("src", F.col("m").alias("dst"))
    return out.where(F.col("src") != F.col("dst")).distinct()


def _is_star_forest(e: DataFrame) -> bool:
    """Converged when every vertex points to exactly one root and no root points anywhere (one shuffle)."""
    roles = e.select(F.inline(F.array(
        F.struct(F.col("src").alias("id"), F.lit(1).alias("out"), F.lit(0).alias("root")),
        F.struct(F.col("dst").alias("id"), F.lit(0).alias("out"), F.lit(1).alias("root")))))
    per = roles.groupBy("id").agg(F.sum("out").alias("out"), F.max("root").alias("root"))
    bad = per.agg(F.sum(((F.col("out") > 1) | ((F.col("out") > 0) & (F.col("root") > 0))).cast("int")))
    return (bad.first()[0] or 0) == 0


def connected_components(vertices: DataFrame, edges: DataFrame, *,
                         max_iter: int = 50,
                         checkpoint_interval: int = 2,
                         local_checkpoints: bool = False,
                         use_graphframes: bool | None = None,
                         broadcast_threshold: int = -1) -> DataFrame:
    """Weakly connected components: (id, component), component = the smallest id in it.

    DataFrame path: alternating large-star / small-star rounds (Kiveris et al., "Connected Components in
    MapReduce and Beyond", 2014) until the edge set is a forest of stars, which takes O(log^2 n) rounds
    in the worst case (O(log n) in practice) instead of the O(diameter) of min-label propagation; the
    result is exact. Each round shuffles the current edge set three times.

    Args:
        max_iter: round limit; ConvergenceError beyond it.
        checkpoint_interval: checkpoint the edge set every this many rounds (others are only persisted).
        local_checkpoints: use executor-local checkpoints (faster, not fault tolerant).
        use_graphframes: None = when its JVM classes load, True = require, False = never.
        broadcast_threshold: graphframes only (-1: let AQE handle skewed joins).
    """
    if checkpoint_interval < 1 or max_iter < 1:
        raise ValueError("checkpoint_interval and max_iter must be >= 1")
    ids = _vertex_ids(vertices)
    if _use_graphframes(vertices, use_graphframes):
        return _gf_components(ids, edges, max_iter, checkpoint_interval, local_checkpoints,
                              broadcast_threshold)
    e = _simple_undirected(ids, edges).select(F.col("a").alias("src"), F.col("b").alias("dst"))
    e = e.persist(StorageLevel.MEMORY_AND_DISK)
    for rounds in range(1, max_iter + 1):
        nxt = _small_star(_large_star(e)).persist(StorageLevel.MEMORY_AND_DISK)
        done = _is_star_forest(nxt)  # also materializes nxt before its parent is released
        if done or rounds % checkpoint_interval == 0:
            cut = materialize(nxt, local_checkpoints=local_checkpoints)
            nxt.unpersist()
            nxt = cut
        e.unpersist()
        e = nxt
        if done:
            log.info("connected components converged after %d large/small-star rounds", rounds)
            break
    else:
        e.unpersist()
        raise ConvergenceError(f"connected components did not converge in {max_iter} rounds")
    roots = e.select(F.col("src").alias("id"), F.col("dst").alias("component"))
    return (ids.join(roots, "id", "left")
            .select("id", F.coalesce("component", "id").alias("component")))


def _gf_components(ids: DataFrame, edges: DataFrame, max_iter: int, checkpoint_interval: int,
                   local_checkpoints: bool, broadcast_threshold: int) -> DataFrame:
    g = GraphFrame(ids, _induced_edges(ids, edges))
    local = local_checkpoints or not has_checkpoint_dir(ids.sparkSession)
    cc = g.connectedComponents(checkpointInterval=checkpoint_interval,
                               broadcastThreshold=broadcast_threshold,
                               use_local_checkpoints=local, max_iter=max_iter)
    # graphframes labels components with longs; relabel with the smallest member id like our path.
    label = cc.groupBy("component").agg(F.min("id").alias("label"))
    return cc.join(label, "component").select("id", F.col("label").alias("component"))


# --- PageRank ------------------------------------------------------------------------------------

def pagerank(vertices: DataFrame, edges: DataFrame, *,
             damping: float = 0.85,
             max_iter: int = 100,
             tol: float = 1.0e-6,
             checkpoint_interval: int = 10,
             local_checkpoints: bool = False,
             use_graphframes: bool | None = None,
             scale: Literal["probability", "per_vertex"] = "probability") -> DataFrame:
    """PageRank as networkx computes it: (id, pagerank), summing to 1 (scale="probability") or to the
    number of vertices (scale="per_vertex", GraphX's convention: 1 = average, comparable across graphs).

    Power iteration x' = d * (x W + m/N) + (1 - d)/N where W is the row-normalised weight matrix and m
    the rank held by dangling vertices (no out-weight), spread uniformly as networkx does; it stops when
    the L1 change is below N * tol (networkx's rule). Parallel edges add their weights (`weight`
    column, 1 when absent); self loops are edges like any other.

    Each iteration is one Spark job (a join and two aggregations over the edges); the rank table is
    persisted each iteration and checkpointed every `checkpoint_interval`. graphframes (GraphX) is used
    for unweighted graphs only, as it ignores weights; its ranks are rescaled to the requested sum, which
    gives the same fixed point because dangling mass and teleport are both uniform.
    """
    if not 0.0 < damping < 1.0:
        raise ValueError(f"damping must be in (0, 1), got {damping}")
    ids = _vertex_ids(vertices)
    weighted = "weight" in edges.columns
    if not weighted and _use_graphframes(vertices, use_graphframes):
        return _gf_pagerank(ids, edges, damping, tol, scale)
    if weighted and use_graphframes:
        log.info("graphframes PageRank ignores edge weights: using the DataFrame implementation")

    # Edges hash-partitioned by src and ranks by id (same partition count): the rank/edge join needs no
    # shuffle, and the contributions grouped by dst come out partitioned like the ranks they update.
    e = (_induced_edges(ids, edges, weighted=True)
         .groupBy("src", "dst").agg(F.sum("weight").alias("weight")))
    out_w = e.groupBy("src").agg(F.sum("weight").alias("out_w")).where(F.col("out_w") != 0)
    # Both are materialized, not persisted: a persisted plan that shares its sources with the other side
    # of a join is not recognised in the cache once Spark renames the duplicated attributes, and would
    # be recomputed from scratch every iteration.
    w = materialize(e.join(out_w, "src").select("src", "dst", (F.col("weight") / F.col("out_w")).alias("w"))
                    .where(F.col("w") != 0).repartition("src"), local_checkpoints=local_checkpoints)
    vs = materialize(
        ids.join(out_w.select(F.col("src").alias("id"), F.lit(False).alias("linked")), "id", "left")
        .select("id", F.col("linked").isNull().alias("dangling")).repartition("id"),
        local_checkpoints=local_checkpoints)
    n_vertices, n_dangling = vs.agg(F.count("*"), F.sum(F.col("dangling").cast("long"))).first()
    if n_vertices == 0:
        return vs.select("id", F.lit(None).cast("double").alias("pagerank"))
    inv_n = 1.0 / n_vertices
    ranks = vs.select("id", "dangling", F.lit(inv_n).alias("rank"))
    dangling_mass = n_dangling * inv_n

    for it in range(1, max_iter + 1):
        # One pass over (ranks left-join out-edges) emits both the contributions to each dst and the
        # vertex's own row, so the previous ranks appear once in the plan.
        j = ranks.join(w, ranks["id"] == w["src"], "left")
        msgs = j.select(F.inline(F.array(
            F.struct(F.col("dst").alias("id"), (F.col("rank") * F.col("w")).alias("c"),
                     F.lit(None).cast("boolean").alias("dangling"), F.lit(None).cast("double").alias("previous")),
            F.struct(F.col("id").alias("id"), F.lit(0.0).alias("c"), F.col("dangling").alias("dangling"),
                     F.col("rank").alias("previous")))))
        agg = msgs.where(F.col("id").isNotNull()).groupBy("id").agg(
            ordered_sum("c").alias("c"), F.max("dangling").alias("dangling"), F.max("previous").alias("previous"))
        nxt = agg.select("id", "dangling",
                         (F.lit(damping) * (F.col("c") + F.lit(dangling_mass * inv_n))
                          + F.lit((1.0 - damping) * inv_n)).alias("rank"),
                         "previous")
        nxt = nxt.persist(StorageLevel.MEMORY_AND_DISK)
        err, dangling_mass = nxt.agg(
            exact_sum(F.abs(F.col("rank") - F.col("previous"))),
            exact_sum(F.when(F.col("dangling"), F.col("rank")).otherwise(0.0))).first()
        done = err < n_vertices * tol
        if done or it % checkpoint_interval == 0:
            cut = materialize(nxt, local_checkpoints=local_checkpoints)
            nxt.unpersist()
            nxt = cut
        ranks.unpersist()
        ranks = nxt  # keeps its "previous" column: unpersist() needs the very DataFrame that was persisted
        if done:
            log.info("PageRank converged after %d iterations (L1 change %.3g)", it, err)
            factor = float(n_vertices) if scale == "per_vertex" else 1.0
            return ranks.select("id", (F.col("rank") * F.lit(factor)).alias("pagerank"))
    ranks.unpersist()
    raise ConvergenceError(f"PageRank did not converge in {max_iter} iterations (tol={tol})")


def _gf_pagerank(ids: DataFrame, edges: DataFrame, damping: float, tol: float,
                 scale: Literal["probability", "per_vertex"]) -> DataFrame:
    g = GraphFrame(ids, _induced_edges(ids, edges))
    pr = g.pageRank(resetProbability=1.0 - damping, tol=tol).vertices.select("id", "pagerank")
    total, n = pr.agg(F.sum("pagerank"), F.count("*")).first()
    factor = (float(n) if scale == "per_vertex" else 1.0) / total
    return pr.select("id", (F.col("pagerank") * F.lit(factor)).alias("pagerank"))


# --- local structure -----------------------------------------------------------------------------

def _pairs(ids: DataFrame, edges: DataFrame) -> DataFrame:
    """One row per connected unordered pair (a <= b) with the directions present: ab (a -> b), ba."""
    e = _induced_edges(ids, edges)
    a, b = F.least("src", "dst"), F.greatest("src", "dst")
    return (e.select(a.alias("a"), b.alias("b"), (F.col("src") == a).alias("ab"), (F.col("dst") == a).alias("ba"))
            .groupBy("a", "b").agg(F.max("ab").alias("ab"), F.max("ba").alias("ba")))


def _vertex_stats(ids: DataFrame, pairs: DataFrame) -> DataFrame:
    """(id, in_degree, out_degree, mutual, degree) in one aggregation over the pairs.

    Directed counts follow networkx DiGraph (parallel edges once; a self loop once each way, and
    reciprocated); `degree` is the undirected simple degree (self loops ignored), as clustering uses.
    """
    mutual = (F.col("ab") & F.col("ba")).cast("long")
    loop = F.col("a") == F.col("b")

    def end(v: str, out: str, inn: str) -> Column:
        return F.struct(F.col(v).alias("id"), F.col(out).cast("long").alias("o"),
                        F.col(inn).cast("long").alias("i"), mutual.alias("m"),
                        F.when(loop, 0).otherwise(1).cast("long").alias("d"))

    ends = pairs.select(F.inline(F.when(loop, F.array(end("a", "ab", "ba")))
                                 .otherwise(F.array(end("a", "ab", "ba"), end("b", "ba", "ab")))))
    per = ends.groupBy("id").agg(F.sum("i").alias("in_degree"), F.sum("o").alias("out_degree"),
                                 F.sum("m").alias("mutual"), F.sum("d").alias("degree"))
    zero = F.lit(0).cast("long")
    return ids.join(per, "id", "left").select(
        "id", *[F.coalesce(c, zero).alias(c) for c in ("in_degree", "out_degree", "mutual", "degree")])


def _reciprocity() -> Column:
    total = F.col("in_degree") + F.col("out_degree")
    return F.when(total > 0, F.lit(2.0) * F.col("mutual") / total)


def _clustering() -> Column:
    d = F.col("degree")
    return F.when(d >= 2, F.lit(2.0) * F.col("triangles") / (d * (d - 1)))


def degrees(vertices: DataFrame, edges: DataFrame) -> DataFrame:
    """(id, in_degree, out_degree) on the simple directed graph: parallel edges count once, a self loop
    counts once in each direction (networkx DiGraph semantics)."""
    ids = _vertex_ids(vertices)
    return _vertex_stats(ids, _pairs(ids, edges)).select("id", "in_degree", "out_degree")


def reciprocity(vertices: DataFrame, edges: DataFrame) -> DataFrame:
    """(id, reciprocity) = 2 * mutual links / (in_degree + out_degree), null without links
    (networkx.reciprocity(G, nodes) on the simple directed graph)."""
    ids = _vertex_ids(vertices)
    stats = _vertex_stats(ids, _pairs(ids, edges))
    return stats.select("id", _reciprocity().alias("reciprocity"))


def weighted_degree(vertices: DataFrame, edges: DataFrame) -> DataFrame:
    """(id, weighted_degree): sum of `weight` (1 when absent) of incident edges, direction ignored, each
    edge row counted (networkx MultiGraph degree(weight=...): a self loop counts twice)."""
    ids = _vertex_ids(vertices)
    e = _induced_edges(ids, edges, weighted=True)
    ends = e.select(F.inline(F.array(F.struct(F.col("src").alias("id"), "weight"),
                                     F.struct(F.col("dst").alias("id"), "weight"))))
    wd = ends.groupBy("id").agg(F.sum("weight").alias("weighted_degree"))
    return ids.join(wd, "id", "left").select(
        "id", F.coalesce("weighted_degree", F.lit(0.0)).alias("weighted_degree"))


def _rank_key(deg: Column, vid: Column) -> Column:
    return F.struct(deg.alias("d"), vid.alias("i"))


def _triangles(ids: DataFrame, und: DataFrame, deg: DataFrame) -> DataFrame:
    """(id, triangles) from the simple undirected edges (a < b) and each vertex's degree (id, degree).

    Each edge is oriented from the endpoint of lower (degree, id) to the higher one; every triangle is
    then found exactly once, at its lowest vertex, by pairing that vertex's out-neighbours. Out-degrees
    are at most sqrt(2m), so the wedges examined are O(m^1.5) however skewed the degrees are (a hub
    never pairs its own neighbours).
    """
    da = deg.select(F.col("id").alias("a"), F.col("degree").alias("da"))
    db = deg.select(F.col("id").alias("b"), F.col("degree").alias("db"))
    ranked = und.join(da, "a").join(db, "b")
    a_first = _rank_key(F.col("da"), F.col("a")) < _rank_key(F.col("db"), F.col("b"))
    oriented = ranked.select(F.when(a_first, F.col("a")).otherwise(F.col("b")).alias("u"),
                             F.when(a_first, F.col("b")).otherwise(F.col("a")).alias("v"))
    wedges = (oriented.alias("x").join(oriented.alias("y"), F.col("x.u") == F.col("y.u"))
              .where(F.col("x.v") < F.col("y.v"))
              .select(F.col("x.u").alias("u"), F.col("x.v").alias("a"), F.col("y.v").alias("b")))
    closed = wedges.join(und, ["a", "b"], "left_semi")  # x.v < y.v, so (a, b) is canonical
    per_vertex = (closed.select(F.explode(F.array("u", "a", "b")).alias("id"))
                  .groupBy("id").agg(F.count("*").alias("triangles")))
    return ids.join(per_vertex, "id", "left").select(
        "id", F.coalesce("triangles", F.lit(0).cast("long")).alias("triangles"))


def _gf_triangles(ids: DataFrame, und: DataFrame) -> DataFrame:
    g = GraphFrame(ids, und.select(F.col("a").alias("src"), F.col("b").alias("dst")))
    tc = g.triangleCount(storage_level=StorageLevel.MEMORY_AND_DISK)
    return ids.join(tc.select("id", F.col("count").cast("long").alias("triangles")), "id", "left").select(
        "id", F.coalesce("triangles", F.lit(0).cast("long")).alias("triangles"))


def _with_triangles(ids: DataFrame, pairs: DataFrame, stats: DataFrame,
                    use_graphframes: bool | None) -> DataFrame:
    und = pairs.where(F.col("a") != F.col("b")).select("a", "b")
    tri = (_gf_triangles(ids, und) if _use_graphframes(ids, use_graphframes)
           else _triangles(ids, und, stats.select("id", "degree")))
    return stats.join(tri, "id")


def triangle_count(vertices: DataFrame, edges: DataFrame, *, use_graphframes: bool | None = None) -> DataFrame:
    """(id, triangles) on the undirected simple graph (direction, parallel edges and self loops ignored)."""
    ids = _vertex_ids(vertices)
    pairs = _pairs(ids, edges)
    return _with_triangles(ids, pairs, _vertex_stats(ids, pairs), use_graphframes).select("id", "triangles")


def clustering(vertices: DataFrame, edges: DataFrame, *, use_graphframes: bool | None = None) -> DataFrame:
    """(id, degree, triangles, clustering) on the undirected simple graph.

    clustering = 2 T / (d (d - 1)) as networkx.clustering defines it, but null (undefined) instead of 0
    where the degree d is below 2.
    """
    ids = _vertex_ids(vertices)
    pairs = _pairs(ids, edges)
    t = _with_triangles(ids, pairs, _vertex_stats(ids, pairs), use_graphframes)
    return t.select("id", "degree", "triangles", _clustering().alias("clustering"))


def local_structure(vertices: DataFrame, edges: DataFrame, *,
                    use_graphframes: bool | None = None) -> DataFrame:
    """Everything above in one plan sharing its shuffles: (id, in_degree, out_degree, reciprocity,
    degree, triangles, clustering), with the semantics of `degrees`, `reciprocity` and `clustering`."""
    ids = _vertex_ids(vertices)
    pairs = _pairs(ids, edges)
    t = _with_triangles(ids, pairs, _vertex_stats(ids, pairs), use_graphframes)
    return t.select("id", "in_degree", "out_degree", _reciprocity().alias("reciprocity"), "degree",
                    "triangles", _clustering().alias("clustering"))
