"""The GraphQL documents the client sends (all through ``Endpoint.graphql``)."""

REPOSITORIES = """
query Repositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
    ... on PythonError { message }
  }
}
"""

LOCATIONS = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name loadStatus
        locationOrLoadError {
          __typename ... on PythonError { message errorChain { error { message } } }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

ADD_PARTITION = """
mutation AddPartition($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on Error { message }
  }
}
"""

TERMINATE_RUN = """
mutation TerminateRun($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on Error { message }
  }
}
"""

PARTITION_KEYS = """
query PartitionKeys($asset: AssetKeyInput!) {
  assetNodeOrError(assetKey: $asset) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}
"""

RUN_FIELDS = """
fragment RunFields on Run {
  runId status jobName creationTime startTime endTime
  tags { key value }
  stepKeysToExecute
  executionPlan { steps { key } }
  stepStats { stepKey status startTime endTime }
}
"""

RUN = RUN_FIELDS + """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { ...RunFields }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

RUNS_FOR_PARTITION = RUN_FIELDS + """
query RunsForPartition($job: String!, $key: String!, $limit: Int!) {
  runsOrError(filter: {pipelineName: $job, tags: [{key: "dagster/partition", value: $key}]}, limit: $limit) {
    __typename
    ... on Runs { results { ...RunFields } }
    ... on PythonError { message }
  }
}
"""

RUN_LOGS = """
query RunLogs($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor, limit: 1000) {
    __typename
    ... on EventConnection {
      cursor hasMore
      events {
        __typename
        ... on ExecutionStepFailureEvent {
          stepKey message failureMetadata { description }
          error { message className errorChain { error { message className } } }
        }
        ... on RunFailureEvent { message error { message className errorChain { error { message className } } } }
        ... on EngineEvent { message error { message className errorChain { error { message className } } } }
      }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

JOB_ASSETS = """
query JobAssets($selector: PipelineSelector!) {
  assetNodes(pipeline: $selector) { assetKey { path } dependedByKeys { path } }
}
"""

LATEST_MATERIALIZATIONS = """
query LatestMaterializations($assets: [AssetKeyInput!], $key: String!) {
  assetNodes(assetKeys: $assets) {
    assetKey { path }
    assetMaterializations(partitions: [$key], limit: 1) {
      runId timestamp
      metadataEntries {
        __typename label
        ... on TextMetadataEntry { text }
        ... on UrlMetadataEntry { url }
        ... on PathMetadataEntry { path }
        ... on MarkdownMetadataEntry { mdStr }
        ... on FloatMetadataEntry { floatValue }
        ... on IntMetadataEntry { intValue intRepr }
        ... on BoolMetadataEntry { boolValue }
        ... on JsonMetadataEntry { jsonString }
        ... on TableMetadataEntry { table { schema { columns { name } } records } }
      }
    }
  }
}
"""
