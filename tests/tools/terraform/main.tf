# The default three-model stack of the ml_stack role (embedding, rerank, LLM; the dashscope preset
# pointed at the local model service), written for OpenTofu/Terraform and the opensearch-project
# provider, for tests/tools/compare_terraform.py. The API key comes from TF_VAR_api_key only.
#
# The trusted connector endpoint (plugins.ml_commons.trusted_connector_endpoints_regex) is not
# here: the provider's opensearch_cluster_settings resource accepts only a fixed list of core
# cluster settings, none of ML Commons. The comparison script sets it outside Terraform.

terraform {
  required_providers {
    opensearch = {
      source = "opensearch-project/opensearch"
    }
  }
}

variable "opensearch_url" {
  type        = string
  description = "http://127.0.0.1:<port> of the cluster (the comparison script's counting proxy)"
}

variable "endpoint" {
  type        = string
  description = "host:port of the model service, as the connectors' endpoint parameter"
}

variable "scheme" {
  type    = string
  default = "http"
}

variable "api_key" {
  type      = string
  sensitive = true
}

variable "prefix" {
  type    = string
  default = "tofu-"
}

variable "llm_model" {
  type        = string
  default     = "qwen-max"
  description = "the remote model name of the LLM connector (changed to test a connector change)"
}

provider "opensearch" {
  url = var.opensearch_url
}

locals {
  headers = {
    Authorization  = "Bearer $${credential.api_key}"
    "Content-Type" = "application/json"
  }
  models = {
    "text-embedding-v4" = {
      model           = "text-embedding-v4"
      path            = "/compatible-mode/v1/embeddings"
      request_body    = "{ \"model\": \"$${parameters.model}\", \"input\": $${parameters.input} }"
      pre_process     = "connector.pre_process.openai.embedding"
      post_process    = "connector.post_process.openai.embedding"
      response_filter = null
      probe           = jsonencode({ parameters = { input = ["PolarSearch is a search service of PolarDB."] } })
    }
    "qwen3-rerank" = {
      model           = "qwen3-rerank"
      path            = "/api/v1/services/rerank/text-rerank/text-rerank"
      request_body    = "{ \"model\": \"$${parameters.model}\", \"input\": { \"query\": \"$${parameters.query}\", \"documents\": $${parameters.documents} }, \"parameters\": { \"return_documents\": true } }"
      pre_process     = "connector.pre_process.cohere.rerank"
      post_process    = "connector.post_process.cohere.rerank"
      response_filter = "$.output.results"
      probe           = jsonencode({ parameters = { query = "What is PolarSearch?", documents = ["PolarSearch is a search service of PolarDB.", "Paris is the capital of France."] } })
    }
    "qwen-max" = {
      model           = var.llm_model
      path            = "/compatible-mode/v1/chat/completions"
      request_body    = "{ \"model\": \"$${parameters.model}\", \"messages\": $${parameters.messages} }"
      pre_process     = null
      post_process    = null
      response_filter = null
      probe           = jsonencode({ parameters = { messages = [{ role = "user", content = "Reply with one word - ready?" }] } })
    }
  }
}

resource "opensearch_ml_connector" "stack" {
  for_each    = local.models
  name        = "${var.prefix}${each.key}-connector"
  description = "${each.key} connector"
  version     = "1"
  protocol    = "http"
  credential = {
    api_key = var.api_key
  }
  # response_filter only where the model sets one (the DashScope rerank answer's output.results)
  parameters = merge({
    endpoint = var.endpoint
    model    = each.value.model
  }, { for key, value in { response_filter = each.value.response_filter } : key => value if value != null })
  actions {
    action_type           = "predict"
    method                = "POST"
    url                   = "${var.scheme}://$${parameters.endpoint}${each.value.path}"
    headers               = local.headers
    request_body          = each.value.request_body
    pre_process_function  = each.value.pre_process
    post_process_function = each.value.post_process
  }
}

resource "opensearch_ml_model_group" "stack" {
  for_each    = local.models
  name        = "${var.prefix}${each.key}"
  description = "Model group managed by OpenTofu"

  # Without ML access control the server answers access_mode "public" and refuses the field on
  # create (400), so without this every plan shows the three groups as changed.
  lifecycle {
    ignore_changes = [access_mode]
  }
}

resource "opensearch_ml_model" "stack" {
  for_each                 = local.models
  name                     = "${var.prefix}${each.key}"
  description              = "${each.key} remote model"
  function_name            = "remote"
  connector_id             = opensearch_ml_connector.stack[each.key].id
  model_group_id           = opensearch_ml_model_group.stack[each.key].id
  deploy_after_registering = true
  wait_for_predict         = true
  predict_probe_body       = each.value.probe
}
