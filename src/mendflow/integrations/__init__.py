"""Chat and ticketing integrations: Slack approval cards and interactivity, Jira tickets."""
