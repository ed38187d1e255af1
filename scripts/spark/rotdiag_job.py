#!/usr/bin/env python3
"""rotdiag on Apache Spark: diagnose a bucket of CloudWatch Logs exports log group by log group,
on the executors, and merge the partial reports into the one report a single run would make.

    spark-submit scripts/spark/rotdiag_job.py --rotdiag PATH_OR_S3_URI --input PREFIX --out FILE

How it works (README, "Beyond one machine", has the commands for EMR, EMR Serverless and Glue):

1. The driver lists the objects under --input (an s3:// prefix, listed with boto3, or a local
   folder) and orders them as rotdiag's folder walk does (path components compared one by one).
2. Objects are grouped into units: by log group (default: the folder above an export task's
   folder, `<prefix>/<taskId>/<stream>/000000.gz`, which is the log group when every log group
   was exported under a prefix of its own, as the CreateExportTask docs advise), or by export
   task (--group-by task: one task is one log group and one time range). A unit is a run of
   consecutive objects, so units in order are the objects in the walk's order.
3. Units are parallelized in order into contiguous slices (Spark's parallelize keeps ranges
   together); each task fetches its objects (boto3 from S3 into a temporary folder, keeping their
   keys as paths; a local folder is read where it is) and runs the rotdiag binary, shipped to
   every executor with SparkContext.addFile, over them: `rotdiag --format json --all-rotations
   -j CORES OBJECT...`. Executors need no shared file system.
4. The driver collects the partial JSON reports in slice order and runs `rotdiag merge` over them
   (the binary: the merge is rotdiag's own, not Python's), writing the merged report to --out
   (a local path or s3://bucket/key).

Input names: a partial run names its inputs by their keys (S3) or paths (local), so the merged
report is the report of `rotdiag PREFIX` run where those names resolve: for S3,
`aws s3 sync s3://BUCKET/PREFIX PREFIX && rotdiag PREFIX` in an empty folder; for a local folder,
`rotdiag FOLDER` from the folder the job was given it relative to.

Exit status: 0 when the merge was made (whatever it found: read it in the report, or use
--strict), 2 when it could not be made. With --strict, rotdiag's own status (1: failures
diagnosed, 2: inputs not read in full).

Python 3.9+ and PySpark 3.3+; boto3 for s3:// (EMR and Glue have it; see the README for EMR
Serverless). No other dependency.
"""

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

# An export object: `000000.gz`, `000001.gz`, … (`000000` when not compressed).
EXPORT_OBJECT = re.compile(r"^\d{6}(\.gz)?$")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Diagnose CloudWatch Logs exports with rotdiag on Spark, then merge."
    )
    p.add_argument("--input", required=True, help="s3://bucket/prefix or a local folder of exports")
    p.add_argument(
        "--rotdiag",
        required=True,
        help="the rotdiag binary for the executors' platform (a static musl build): a local path "
        "or an s3:// URI; shipped with SparkContext.addFile",
    )
    p.add_argument("--out", required=True, help="where to write the merged report: a path or s3://bucket/key")
    p.add_argument("--format", default="json", choices=["json", "ndjson", "markdown", "human"])
    p.add_argument(
        "--group-by",
        default="log-group",
        choices=["log-group", "task"],
        help="unit of work: the folder above each export task (log-group, exact), or each export "
        "task (task: exact when no rotation has pieces in two tasks' time ranges)",
    )
    p.add_argument("--partitions", type=int, default=0, help="Spark partitions (default: one per unit, at most 4x the default parallelism)")
    p.add_argument("--partials", help="also keep the partial reports in this local folder")
    p.add_argument("--rotdiag-args", default="", help="more rotdiag arguments for every partial run (e.g. \"--since 2025-01-01\")")
    p.add_argument("--strict", action="store_true", help="exit with rotdiag's status (1 when failures were diagnosed)")
    p.add_argument("--master", help="Spark master when run with python, not spark-submit (e.g. local[2])")
    # Glue passes arguments of its own (--JOB_ID, --TempDir, …): they are ignored.
    args, _ = p.parse_known_args(argv)
    return args


# ------------------------------------------------------------------------------------------------
# Listing and grouping (driver)


def split_s3(uri):
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key


def list_objects(source):
    """Every object under `source`, as names rotdiag will see: S3 keys, or local paths."""
    if source.startswith("s3://"):
        import boto3

        bucket, prefix = split_s3(source)
        pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")]
    out = []
    for root, dirs, files in os.walk(source):
        # rotdiag's walk skips hidden entries and does not follow links.
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.startswith("."):
                out.append(os.path.join(root, f))
    return out


def walk_order(name):
    """The order of rotdiag's folder walk: component by component (walkdir sort_by_file_name)."""
    return name.split("/")


def unit_of(name, group_by):
    """The folder whose objects go together: an export object's task folder (`task`) or the folder
    above it (`log-group`); any other object (the `aws-logs-write-test` probe) its own folder (the
    log group's prefix, with `log-group`)."""
    folder = os.path.dirname(name)
    if EXPORT_OBJECT.match(os.path.basename(name)):
        folder = os.path.dirname(folder)  # the task folder
        if group_by == "log-group":
            folder = os.path.dirname(folder)
    elif group_by == "task":
        folder = name
    return folder


def units(names, group_by):
    """Runs of consecutive objects (in walk order) of one unit: [(unit, [names], whole)], `whole`
    when the run is every object under the unit's folder (rotdiag is then given the folder, whose
    walk names the objects the same: a log group of 10,000 streams would not fit a command line)."""
    ordered = sorted(names, key=walk_order)
    out = []
    for n in ordered:
        u = unit_of(n, group_by)
        if out and out[-1][0] == u:
            out[-1][1].append(n)
        else:
            out.append((u, [n]))
    result = []
    at = 0
    for u, objects in out:
        before = ordered[at - 1] if at > 0 else None
        after = ordered[at + len(objects)] if at + len(objects) < len(ordered) else None
        inside = [x for x in (before, after) if x is not None and x.startswith(u + "/")]
        whole = u != "" and not inside and all(o.startswith(u + "/") for o in objects)
        result.append((u, objects, whole))
        at += len(objects)
    return result


# ------------------------------------------------------------------------------------------------
# One partition (executor)


def executable(path):
    mode = os.stat(path).st_mode
    if not mode & stat.S_IXUSR:
        try:
            os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            copy = os.path.join(tempfile.mkdtemp(prefix="rotdiag-bin-"), os.path.basename(path))
            shutil.copy(path, copy)
            os.chmod(copy, 0o755)
            return copy
    return path


def run_partition(index, items, source, binary_name, extra, cores):
    """Runs rotdiag over the objects of this partition's units; yields (index, report bytes)."""
    from pyspark import SparkFiles

    names = [n for _, objects, _ in items for n in objects]
    if not names:
        return
    # What rotdiag is given: a whole unit's folder, or its objects one by one.
    paths = []
    for unit, objects, whole in items:
        paths.extend([unit] if whole else objects)
    binary = executable(SparkFiles.get(binary_name))
    work = None
    cwd = None
    try:
        if source.startswith("s3://"):
            import boto3

            bucket, _ = split_s3(source)
            s3 = boto3.client("s3")
            work = tempfile.mkdtemp(prefix="rotdiag-part-")
            for n in names:
                dest = os.path.join(work, n)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                s3.download_file(bucket, n, dest)
            cwd = work
        cmd = [binary, "--format", "json", "--all-rotations", "--no-progress", "-j", str(cores)]
        cmd += extra + ["--"] + paths
        started = time.time()
        done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # 0: nothing found, 1: failures diagnosed, 2: some input not read in full (reported in the
        # partial report's inputs, and by the merge's exit status). No report at all is an error.
        if not done.stdout.strip():
            raise RuntimeError(
                "rotdiag made no report for partition %d (status %d): %s"
                % (index, done.returncode, done.stderr.decode("utf-8", "replace")[-2000:])
            )
        sys.stderr.write(
            "rotdiag partition %d: %d objects, status %d, %.1f s\n"
            % (index, len(names), done.returncode, time.time() - started)
        )
        yield (index, done.stdout)
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# Driver


def write_out(out, data):
    if out.startswith("s3://"):
        import boto3

        bucket, key = split_s3(out)
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
    else:
        folder = os.path.dirname(out)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(out, "wb") as f:
            f.write(data)


def main(argv):
    args = parse_args(argv)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("rotdiag")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    sc = spark.sparkContext

    from pyspark import SparkFiles

    # Ship the binary (a local path or any URI Spark's file systems read: s3:// on EMR and Glue).
    # A binary already shipped with --files is found by its name.
    binary_name = os.path.basename(args.rotdiag)
    try:
        present = os.path.exists(SparkFiles.get(binary_name))
    except Exception:
        present = False
    if not present:
        sc.addFile(args.rotdiag)
    driver_binary = executable(SparkFiles.get(binary_name))

    started = time.time()
    names = list_objects(args.input)
    work_units = units(names, args.group_by)
    if not work_units:
        sys.stderr.write("rotdiag job: no object under %s\n" % args.input)
        return 2
    slices = args.partitions or min(len(work_units), 4 * sc.defaultParallelism)
    cores = int(sc.getConf().get("spark.task.cpus", "1"))
    extra = args.rotdiag_args.split()
    sys.stderr.write(
        "rotdiag job: %d objects in %d units (by %s), %d partitions\n"
        % (len(names), len(work_units), args.group_by, slices)
    )
    source = args.input
    partials = (
        sc.parallelize(work_units, slices)
        .mapPartitionsWithIndex(lambda i, items: run_partition(i, list(items), source, binary_name, extra, cores))
        .collect()
    )
    partials.sort(key=lambda p: p[0])
    mapped = time.time()

    keep = args.partials or tempfile.mkdtemp(prefix="rotdiag-partials-")
    os.makedirs(keep, exist_ok=True)
    paths = []
    for i, report in partials:
        path = os.path.join(keep, "part-%05d.json" % i)
        with open(path, "wb") as f:
            f.write(report)
        paths.append(path)
    merged = subprocess.run(
        [driver_binary, "merge", "--format", args.format, "--color", "never"] + paths,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sys.stderr.write(merged.stderr.decode("utf-8", "replace"))
    if not args.partials:
        shutil.rmtree(keep, ignore_errors=True)
    if not merged.stdout:
        sys.stderr.write("rotdiag job: the merge failed (status %d)\n" % merged.returncode)
        return 2
    write_out(args.out, merged.stdout)
    sys.stderr.write(
        "rotdiag job: %d partial reports merged into %s (status %d); map %.1f s, merge %.1f s\n"
        % (len(paths), args.out, merged.returncode, mapped - started, time.time() - mapped)
    )
    spark.stop()
    return merged.returncode if args.strict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
