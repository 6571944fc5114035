#!/usr/bin/env python3
"""Seeds a moto server with AWS SDK (boto3) calls.

  seed_moto.py --endpoint URL taskflow   TaskFlow production (seed 004) in us-east-1, its DR
                                         copy in us-west-2, and a tagged blue/green pair of
                                         target groups (seed 001) where only one is attached
  seed_moto.py --endpoint URL bench --region R --services N --tasks M
                                         N services with M tasks in all, for the fan-out benchmark

Prints one JSON document describing what it created (names and counts), which the tests compare
with what the console shows.
"""
import argparse
import io
import json
import urllib.request
import zipfile

import boto3

ACCOUNT = "123456789012"
TAGS = [{"Key": "Environment", "Value": "production"}, {"Key": "Project", "Value": "taskflow"}]


def client(endpoint, service, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def network(endpoint, region):
    ec2 = client(endpoint, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    sg = ec2.create_security_group(GroupName="ecs", Description="ecs tasks", VpcId=vpc)["GroupId"]
    return vpc, subnets, sg


def ecs_service(ecs, cluster, name, family, desired, subnets, sg, target_group=None, cpu="1024", memory="2048"):
    td = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=cpu,
        memory=memory,
        containerDefinitions=[{"name": "api", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{family}:1.5.0", "essential": True, "cpu": int(cpu), "memory": int(memory)}],
    )["taskDefinition"]["taskDefinitionArn"]
    kwargs = dict(
        cluster=cluster,
        serviceName=name,
        taskDefinition=td,
        desiredCount=0,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
        tags=[{"key": t["Key"], "value": t["Value"]} for t in TAGS],
    )
    if target_group:
        kwargs["loadBalancers"] = [{"targetGroupArn": target_group, "containerName": "api", "containerPort": 3001}]
    ecs.create_service(**kwargs)
    # moto starts no tasks until UpdateService sets the desired count (then running = desired).
    ecs.update_service(cluster=cluster, service=name, desiredCount=desired)
    return td


def run_tasks(ecs, cluster, service, td, count, subnets, sg):
    started = 0
    while started < count:
        n = min(10, count - started)
        ecs.run_task(
            cluster=cluster,
            taskDefinition=td,
            count=n,
            launchType="FARGATE",
            group=f"service:{service}",
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
        )
        started += n


def lambda_function(endpoint, region, name):
    iam = client(endpoint, "iam", region)
    try:
        role = iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="lambda-exec")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return 'ok'\n")
    client(endpoint, "lambda", region).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": buf.getvalue()},
        Tags={t["Key"]: t["Value"] for t in TAGS},
    )


def observability(endpoint, region, prefix, lb_arn, service):
    """Alarms of seed 004's alert table on the load balancer and the service, and the last 30
    minutes of request counts and CPU, one data point a minute."""
    import datetime
    cw = client(endpoint, "cloudwatch", region)
    lb_dim = lb_arn.split(":loadbalancer/")[1]
    cw.put_metric_alarm(
        AlarmName=f"{prefix}-5xx", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=[{"Name": "LoadBalancer", "Value": lb_dim}], Statistic="Sum", Period=60, EvaluationPeriods=5,
        Threshold=10.0, ComparisonOperator="GreaterThanThreshold",
    )
    cw.put_metric_alarm(
        AlarmName=f"{prefix}-cpu-high", Namespace="AWS/ECS", MetricName="CPUUtilization",
        Dimensions=[{"Name": "ClusterName", "Value": prefix}, {"Name": "ServiceName", "Value": service}],
        Statistic="Average", Period=60, EvaluationPeriods=10, Threshold=85.0, ComparisonOperator="GreaterThanThreshold",
    )
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    data = []
    for i in range(1, 31):
        t = now - datetime.timedelta(minutes=i)
        data.append({"MetricName": "RequestCount", "Dimensions": [{"Name": "LoadBalancer", "Value": lb_dim}], "Timestamp": t, "Value": 120.0, "Unit": "Count"})
    cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)
    cpu = [{"MetricName": "CPUUtilization", "Dimensions": [{"Name": "ClusterName", "Value": prefix}, {"Name": "ServiceName", "Value": service}], "Timestamp": now - datetime.timedelta(minutes=i), "Value": 40.0 + i, "Unit": "Percent"} for i in range(1, 31)]
    cw.put_metric_data(Namespace="AWS/ECS", MetricData=cpu)


def taskflow(endpoint, region, prefix, desired, with_extras):
    vpc, subnets, sg = network(endpoint, region)
    elb = client(endpoint, "elbv2", region)
    ecs = client(endpoint, "ecs", region)
    rds = client(endpoint, "rds", region)
    lb = elb.create_load_balancer(Name=f"{prefix}-alb", Subnets=subnets, SecurityGroups=[sg], Scheme="internet-facing", Type="application", Tags=TAGS)["LoadBalancers"][0]["LoadBalancerArn"]
    blue = elb.create_target_group(Name=f"{prefix}-blue", Protocol="HTTP", Port=3001, VpcId=vpc, TargetType="ip", Tags=TAGS)["TargetGroups"][0]["TargetGroupArn"]
    green = elb.create_target_group(Name=f"{prefix}-green", Protocol="HTTP", Port=3001, VpcId=vpc, TargetType="ip", Tags=TAGS)["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": blue}])
    elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": f"10.1.{i % 2}.{10 + i}", "Port": 3001} for i in range(desired)])
    cluster = ecs.create_cluster(clusterName=prefix, tags=[{"key": t["Key"], "value": t["Value"]} for t in TAGS])["cluster"]["clusterArn"]
    service = f"{prefix.replace('-production', '')}-api-production" if prefix.endswith("-production") else f"{prefix}-api"
    td = ecs_service(ecs, prefix, service, service, desired, subnets, sg, target_group=blue)
    run_tasks(ecs, prefix, service, td, desired, subnets, sg)
    db = rds.create_db_instance(
        DBInstanceIdentifier=prefix,
        Engine="postgres",
        EngineVersion="15.4",
        DBInstanceClass="db.r6g.large",
        AllocatedStorage=200,
        MasterUsername="taskflow",
        MasterUserPassword="not-a-real-password",
        MultiAZ=True,
        Tags=TAGS,
    )["DBInstance"]["DBInstanceArn"]
    created = {
        "region": region,
        "cluster": prefix,
        "services": [service],
        "tasks": desired,
        "load_balancers": [f"{prefix}-alb"],
        "target_groups": [f"{prefix}-blue", f"{prefix}-green"],
        "db_instances": [prefix],
        "tagged": [],
    }
    if with_extras:
        rds.create_db_instance_read_replica(DBInstanceIdentifier=f"{prefix}-replica-1", SourceDBInstanceIdentifier=prefix, DBInstanceClass="db.r6g.large", Tags=TAGS)
        created["db_instances"].append(f"{prefix}-replica-1")
        lambda_function(endpoint, region, f"{prefix}-worker")
        s3 = client(endpoint, "s3", region)
        s3.create_bucket(Bucket=f"{prefix}-static")
        s3.put_bucket_tagging(Bucket=f"{prefix}-static", Tagging={"TagSet": TAGS})
        client(endpoint, "dynamodb", region).create_table(
            TableName=f"{prefix}-sessions",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=TAGS,
        )
        created["tagged"] = [f"{prefix}-worker", f"{prefix}-static", f"{prefix}-sessions"]
        observability(endpoint, region, prefix, lb, service)
        created["alarms"] = [f"{prefix}-5xx", f"{prefix}-cpu-high"]
        created["requests_per_minute"] = 120
        backup = client(endpoint, "backup", region)
        backup.create_backup_vault(BackupVaultName=f"{prefix}-vault", BackupVaultTags={t["Key"]: t["Value"] for t in TAGS})
        backup.create_backup_plan(BackupPlan={
            "BackupPlanName": f"{prefix}-rds",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": f"{prefix}-vault", "ScheduleExpression": "cron(0 2 * * ? *)", "Lifecycle": {"DeleteAfterDays": 30}}],
        }, BackupPlanTags={t["Key"]: t["Value"] for t in TAGS})
        created["backup_plans"] = [f"{prefix}-rds"]
        # Something untagged in the same account and region: a selector must leave it out.
        ecs.create_cluster(clusterName="scratch-untagged")
        created["untagged_cluster"] = "scratch-untagged"
    return created


def bench(endpoint, region, services, tasks, functions):
    import datetime
    _, subnets, sg = network(endpoint, region)
    ecs = client(endpoint, "ecs", region)
    ecs.create_cluster(clusterName="bench")
    per = [tasks // services + (1 if i < tasks % services else 0) for i in range(services)]
    scaling = client(endpoint, "application-autoscaling", region)
    for i, n in enumerate(per):
        name = f"bench-svc-{i:03d}"
        td = ecs_service(ecs, "bench", name, name, n, subnets, sg)
        run_tasks(ecs, "bench", name, td, n, subnets, sg)
        if i % 5 == 0:
            scaling.register_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/bench/{name}",
                                             ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=8)
    # The other kinds the seeds run: functions with a minute of metrics each, stacks, APIs,
    # schedules and a cache.
    cw = client(endpoint, "cloudwatch", region)
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    for i in range(functions):
        name = f"bench-fn-{i:03d}"
        lambda_function(endpoint, region, name)
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": m, "Dimensions": [{"Name": "FunctionName", "Value": name}],
             "Timestamp": now - datetime.timedelta(minutes=1), "Value": v}
            for m, v in (("Invocations", 100.0), ("Errors", 1.0 if i % 10 == 0 else 0.0))])
    cfn = client(endpoint, "cloudformation", region)
    for i in range(3):
        cfn.create_stack(StackName=f"bench-stack-{i}", TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}))
    for i in range(2):
        client(endpoint, "apigateway", region).create_rest_api(name=f"bench-api-{i}")
    client(endpoint, "apigatewayv2", region).create_api(Name="bench-http", ProtocolType="HTTP")
    events = client(endpoint, "events", region)
    for i in range(5):
        events.put_rule(Name=f"bench-rule-{i}", ScheduleExpression="rate(5 minutes)")
    client(endpoint, "elasticache", region).create_replication_group(
        ReplicationGroupId="bench-redis", ReplicationGroupDescription="bench", Engine="redis",
        CacheNodeType="cache.t4g.small", NumCacheClusters=2)
    return {"region": region, "cluster": "bench", "services": services, "tasks": tasks, "functions": functions}


def keep_tasks_running(endpoint):
    """moto advances an ECS task's status each time it is read (RUNNING, DEACTIVATING, ...,
    STOPPED); make it stay RUNNING, as a service's tasks do."""
    body = json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}}).encode()
    req = urllib.request.Request(f"{endpoint}/moto-api/state-manager/set-transition", data=body, method="POST")
    urllib.request.urlopen(req).read()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("taskflow")
    b = sub.add_parser("bench")
    b.add_argument("--region", default="eu-west-1")
    b.add_argument("--services", type=int, default=50)
    b.add_argument("--tasks", type=int, default=200)
    b.add_argument("--functions", type=int, default=40)
    a = p.parse_args()
    keep_tasks_running(a.endpoint)
    if a.what == "taskflow":
        out = {
            "primary": taskflow(a.endpoint, "us-east-1", "taskflow-production", 4, True),
            "dr": taskflow(a.endpoint, "us-west-2", "taskflow-dr", 2, False),
        }
    else:
        out = bench(a.endpoint, a.region, a.services, a.tasks, a.functions)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
